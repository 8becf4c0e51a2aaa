package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/regtest"
)

const (
	goodHash = "5e7580598c0d7064d4fc79faaeb42585e1a675f8"
	goodSalt = "f0164cb3a0c3d7efe75abea8fda86d2d56c8dda9"
	goodUUID = "db61dc092922252e45bbb264f59147138c7fd5fa"
)

// lansd runs the CLI in-process and returns its exit status and output.
func lansd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), &cliEnv{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut}, args)
	return code, out.String(), errOut.String()
}

// realRegistry returns the path of the full IANA CSV in ../shared/data, or
// skips (fails under LANSD_REQUIRE_DATA=1) when it is absent.
func realRegistry(t *testing.T) string { return regtest.FullPath(t) }

func TestVersionAndHelp(t *testing.T) {
	code, out, _ := lansd(t, "", "--version")
	assert.Equal(t, exitOK, code)
	assert.Regexp(t, `^lansd \S+\n$`, out)

	code, out, _ = lansd(t, "", "--help")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "validate")
	assert.Contains(t, out, "registry")

	for _, cmd := range []string{"validate", "registry"} {
		code, out, _ := lansd(t, "", cmd, "--help")
		assert.Equal(t, exitOK, code, cmd)
		assert.Contains(t, out, "Example:", cmd)
		assert.Contains(t, out, "lansd "+cmd, cmd)
	}

	code, _, errOut := lansd(t, "", "frobnicate")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, `unknown command "frobnicate"`)

	code, _, _ = lansd(t, "")
	assert.Equal(t, exitUsage, code)
}

func TestValidateConforms(t *testing.T) {
	code, out, errOut := lansd(t, "", "validate", "--service", "jnx-kcsync",
		"hash="+goodHash, "salt="+goodSalt, "uuid="+goodUUID)
	assert.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "conforms")
	assert.NotContains(t, out, "does not conform")

	code, out, _ = lansd(t, "", "validate", "--service", "_timezone._tcp.local.", "path=/tz")
	assert.Equal(t, exitOK, code, out)
}

func TestValidateBadValueNamesKeyAndOffset(t *testing.T) {
	code, out, _ := lansd(t, "", "validate", "--service", "jnx-kcsync",
		"hash="+goodHash[:39], "salt="+goodSalt, "uuid="+goodUUID)
	assert.Equal(t, exitNonConf, code)
	assert.Contains(t, out, `key "hash"`)
	assert.Contains(t, out, "offset 0")
	assert.Contains(t, out, "does not conform")

	code, out, _ = lansd(t, "", "validate", "--service", "timezone", "path=tz")
	assert.Equal(t, exitNonConf, code)
	assert.Contains(t, out, `key "path"`)
}

func TestValidateStrictTurnsWarningsIntoErrors(t *testing.T) {
	args := []string{"validate", "--service", "timezone", "path=/tz", "colour=blue"}
	code, out, _ := lansd(t, "", args...)
	assert.Equal(t, exitOK, code, out)
	assert.Contains(t, out, "warning")
	assert.Contains(t, out, `key "colour"`)

	code, out, _ = lansd(t, "", append(args, "--strict")...)
	assert.Equal(t, exitNonConf, code, out)
	assert.Contains(t, out, "error")
}

func TestValidateInputForms(t *testing.T) {
	// "path=/tz" in wire form: one string of 8 bytes.
	code, out, _ := lansd(t, "", "validate", "--service", "timezone", "--wire", "08706174683d2f747a")
	assert.Equal(t, exitOK, code, out)

	// A length byte that runs past the end is an input error naming the offset.
	code, _, errOut := lansd(t, "", "validate", "--wire", "0970617468")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "offset 0")

	code, _, errOut = lansd(t, "", "validate", "--wire", "zz")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "--wire")

	code, out, _ = lansd(t, "", "validate", "--service", "timezone", "--json", `{"path": "/tz"}`)
	assert.Equal(t, exitOK, code, out)

	code, out, _ = lansd(t, `{"path": "relative"}`, "validate", "--service", "timezone", "--json", "-")
	assert.Equal(t, exitNonConf, code, out)

	code, _, errOut = lansd(t, "", "validate", "--json", `{"path": {"nested": 1}}`)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "path")

	code, _, errOut = lansd(t, "", "validate", "--wire", "00", "a=b")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "one way")

	code, _, errOut = lansd(t, "", "validate", `k=\xZZ`)
	assert.Equal(t, exitUsage, code)
	assert.NotEmpty(t, errOut)

	code, _, errOut = lansd(t, "", "validate", "--service", "no-such-service", "a=b")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "no-such-service")

	code, _, _ = lansd(t, "", "validate", "--no-such-flag")
	assert.Equal(t, exitUsage, code)
}

func TestRegistryBuiltin(t *testing.T) {
	code, out, _ := lansd(t, "", "registry", "list")
	require.Equal(t, exitOK, code)
	for _, name := range []string{"jnx-kcsync", "timezone", "timezones"} {
		assert.Contains(t, out, name)
	}
	assert.Contains(t, out, "_timezone._tcp")

	code, out, _ = lansd(t, "", "registry", "show", "_jnx-kcsync._tcp")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "hash")
	assert.Contains(t, out, "exactly 40 hex digits")

	code, out, _ = lansd(t, "", "registry", "show", "TimeZone")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "RFC7808")
	assert.Contains(t, out, "absolute URI path")

	code, _, errOut := lansd(t, "", "registry", "show", "nope")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "nope")

	code, out, _ = lansd(t, "", "registry", "check")
	require.Equal(t, exitOK, code)
	assert.Regexp(t, `records:\s+3\n`, out)

	code, _, _ = lansd(t, "", "registry", "bogus")
	assert.Equal(t, exitUsage, code)
}

func TestRegistryFullFile(t *testing.T) {
	path := realRegistry(t)
	code, out, errOut := lansd(t, "", "registry", "check", path)
	require.Equal(t, exitOK, code, errOut)
	assert.Regexp(t, `records:\s+14447\n`, out)
	assert.Regexp(t, `distinct service names:\s+7281\n`, out)
	assert.Regexp(t, `records with "Defined TXT keys": 986 \(992 counting variant spellings\)\n`, out)
	assert.Regexp(t, `RFC 6335 section 5.1\): 99\n`, out)

	code, out, _ = lansd(t, "", "registry", "list", "--txt-keys", "--registry", path)
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "jnx-kcsync")
	assert.Regexp(t, `(?m)^http\s+_http\._tcp\s+u p path=<path>\s`, out)
	assert.NotRegexp(t, `(?m)^printer\s`, out, "printer's notes define no TXT keys")

	code, out, _ = lansd(t, "", "registry", "show", "contamac_icm", "--registry", path)
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "not usable as a DNS-SD service type")

	// Validation against a service only the full registry knows.
	code, out, _ = lansd(t, "", "validate", "--registry", path, "--service", "http", "u=me", "path=/x")
	assert.Equal(t, exitOK, code, out)
	code, out, _ = lansd(t, "", "validate", "--registry", path, "--service", "http", "path=x")
	assert.Equal(t, exitNonConf, code, out)
}

func TestRegistryMalformedFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	require.NoError(t, os.WriteFile(bad, []byte("Service Name,Port Number\nx,1\n"), 0o644))
	code, _, errOut := lansd(t, "", "registry", "check", bad)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "line 1")

	code, _, errOut = lansd(t, "", "validate", "--registry", filepath.Join(dir, "missing.csv"), "--service", "x", "a=b")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "missing.csv")
}
