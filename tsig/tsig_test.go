package tsig

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lansd/lansd/internal/dnstest"
)

const testSecret = "S7OMiEtXrIV89J7SqDZ8Vi3eoXryrvyN5jvKwekjnYo="

func TestTSIGParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Key
	}{
		{"hmac-sha256:update-key:" + testSecret, Key{"update-key.", dns.HmacSHA256, testSecret}},
		{"update-key:" + testSecret, Key{"update-key.", dns.HmacSHA256, testSecret}},
		{"HMAC-SHA512:Update-Key.:" + testSecret, Key{"update-key.", dns.HmacSHA512, testSecret}},
		{"hmac-sha1.:k:" + testSecret, Key{"k.", dns.HmacSHA1, testSecret}},
		{"hmac-sha224:k:" + testSecret, Key{"k.", dns.HmacSHA224, testSecret}},
		{"hmac-sha384:k:" + testSecret + "\n", Key{"k.", dns.HmacSHA384, testSecret}},
	} {
		got, err := Parse(c.in)
		require.NoError(t, err, c.in)
		assert.Equal(t, c.want, got, c.in)
	}
	assert.Equal(t, "hmac-sha256:update-key", Key{"update-key.", dns.HmacSHA256, testSecret}.String(), "String hides the secret")
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		in, field, want string
	}{
		{"", "key", "want [ALG:]NAME:SECRET"},
		{"just-a-name", "key", "got 1 colon-separated fields"},
		{"a:b:c:d", "key", "got 4"},
		{"hmac-md5:k:" + testSecret, "algorithm", "hmac-md5 is not supported"},
		{"hmac-sha256-128:k:" + testSecret, "algorithm", "truncated MACs are not supported; use hmac-sha256"},
		{"rot13:k:" + testSecret, "algorithm", `TSIG algorithm "rot13": unknown algorithm`},
		{":" + testSecret, "name", "empty key name"},
		{"hmac-sha256:bad name:" + testSecret, "name", "no white space"},
		{"hmac-sha256:k:", "secret", "empty secret"},
		{"hmac-sha256:k:abc$def", "secret", "not base64: bad data at byte 3"},
		{"hmac-sha256:k:====", "secret", "not base64"},
	} {
		_, err := Parse(c.in)
		require.Error(t, err, c.in)
		var pe *ParseError
		require.ErrorAs(t, err, &pe, c.in)
		assert.Equal(t, c.field, pe.Field, c.in)
		assert.Contains(t, err.Error(), c.want, c.in)
		assert.Zero(t, pe.Line, "no position for a key given as a string")
	}
	// The secret never appears in a message.
	_, err := Parse("hmac-md5:k:" + testSecret)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), testSecret)
	_, err = Parse("hmac-sha256:k:" + testSecret + "$")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), testSecret[:10])
}

// writeKeyFile writes body to a file in a temporary directory.
func writeKeyFile(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "update.key")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func TestTSIGKeyFile(t *testing.T) {
	p := writeKeyFile(t, `# made by tsig-keygen
// another comment
/* and a
   block comment */
key "Update-Key" {
	algorithm hmac-sha512;   # trailing comment
	secret "`+testSecret+`";
};
`)
	k, err := LoadFile(p)
	require.NoError(t, err)
	assert.Equal(t, Key{"update-key.", dns.HmacSHA512, testSecret}, k)

	// Unquoted name, one line, clauses in the other order.
	k, err = LoadFile(writeKeyFile(t, `key k2 { secret "`+testSecret+`"; algorithm HMAC-SHA256; };`))
	require.NoError(t, err)
	assert.Equal(t, Key{"k2.", dns.HmacSHA256, testSecret}, k)
}

func TestTSIGKeyFileFromBINDTools(t *testing.T) {
	// Real key files from BIND's own generators.
	for _, tool := range [][]string{
		{"tsig-keygen", "-a", "hmac-sha384", "tool-key"},
		{"ddns-confgen", "-q", "-a", "hmac-sha256", "-k", "tool-key"},
	} {
		bin, err := exec.LookPath(tool[0])
		if err != nil {
			dnstest.Require(t, tool[0]+" (Debian package bind9) is not installed; run scripts/deps.sh")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, bin, tool[1:]...).Output()
		cancel()
		require.NoError(t, err, tool)
		k, err := LoadFile(writeKeyFile(t, string(out)))
		require.NoError(t, err, "%s output:\n%s", tool[0], out)
		assert.Equal(t, "tool-key.", k.Name)
		assert.Equal(t, "hmac-"+strings.Split(strings.Split(string(out), "hmac-")[1], ";")[0]+".", k.Algorithm)
		assert.Contains(t, string(out), `"`+k.Secret+`"`)
	}
}

func TestTSIGKeyFileErrors(t *testing.T) {
	s := `"` + testSecret + `"`
	for _, c := range []struct {
		body, field, want string
	}{
		{"", "key", ":1:1: TSIG key: no key statement"},
		{"# only a comment\n", "key", ":2:1: TSIG key: no key statement"},
		{"key k {\n\talgorithm hmac-sha256;\n};\n", "secret", `:1:1: TSIG secret: key "k" has no secret clause`},
		{"key k {\n\tsecret " + s + ";\n};\n", "algorithm", `:1:1: TSIG algorithm: key "k" has no algorithm clause`},
		{"key k {\n\talgorithm hmac-md5;\n\tsecret " + s + ";\n};\n", "algorithm", `:2:12: TSIG algorithm "hmac-md5": hmac-md5 is not supported`},
		{"key k {\n\talgorithm hmac-sha256;\n\tsecret \"ab$c\";\n};\n", "secret", ":3:9: TSIG secret: not base64: bad data at byte 2"},
		{"key k {\n\talgorithm hmac-sha256;\n\tsecret " + s + ";\n\tfoo bar;\n};\n", "key", `:4:2: TSIG key: found "foo"; a key statement holds algorithm and secret`},
		{"key k {\n\talgorithm hmac-sha256\n\tsecret " + s + ";\n};\n", "key", `:3:2: TSIG key: want ; after the clause, found "secret"`},
		{"key k {\n\talgorithm hmac-sha256;\n\tsecret " + s + ";\n}\n", "key", ":5:1: TSIG key: want ; after the key statement's }, found end of file"},
		{"key k {\n\talgorithm hmac-sha256;\n\tsecret \"abc\n", "key", ":3:9: TSIG key: quoted string not closed"},
		{"/* open comment\nkey k {};", "key", ":1:1: TSIG key: comment /* not closed"},
		{"key k { algorithm hmac-sha256; secret " + s + "; };\nkey k2 { algorithm hmac-sha256; secret " + s + "; };\n", "key", ":2:1: TSIG key: a second key statement"},
		{"options { };\n", "key", `:1:1: TSIG key: found "options"`},
		{"key { algorithm hmac-sha256; };", "name", ":1:5: TSIG name: want the key name, found \"{\""},
		{"key k { algorithm hmac-sha256; algorithm hmac-sha1; secret " + s + "; };", "algorithm", ":1:32: TSIG algorithm: algorithm given twice"},
		{"key k { algorithm hmac-sha256; secret " + s + "; secret " + s + "; };", "secret", ":1:87: TSIG secret: secret given twice"},
		{"key k {", "key", ":1:1: TSIG key: key statement not closed with };"},
	} {
		p := writeKeyFile(t, c.body)
		_, err := LoadFile(p)
		require.Error(t, err, c.body)
		var pe *ParseError
		require.ErrorAs(t, err, &pe, c.body)
		assert.Equal(t, c.field, pe.Field, c.body)
		assert.Equal(t, p+c.want, err.Error()[:min(len(err.Error()), len(p+c.want))], c.body)
		assert.NotContains(t, err.Error(), testSecret, "never the secret")
	}
}

func TestTSIGKeyFileLimits(t *testing.T) {
	_, err := LoadFile(filepath.Join(t.TempDir(), "missing.key"))
	require.Error(t, err)
	assert.True(t, errors.Is(err, os.ErrNotExist), err)

	big := strings.Repeat("# padding\n", maxKeyFileSize/10+10)
	_, err = LoadFile(writeKeyFile(t, big))
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	assert.Contains(t, err.Error(), "larger than")

	// Binary junk is an error, not a panic.
	_, err = LoadFile(writeKeyFile(t, "\x00\xff\"\\"))
	require.Error(t, err)
}

func TestTSIGCheck(t *testing.T) {
	k, err := Key{Name: "K", Algorithm: "HMAC-SHA256", Secret: " " + testSecret + " "}.Check()
	require.NoError(t, err)
	assert.Equal(t, Key{"k.", dns.HmacSHA256, testSecret}, k)
	assert.True(t, Key{}.IsZero())
	assert.False(t, k.IsZero())
	_, err = Key{Name: "k", Algorithm: dns.HmacSHA256}.Check()
	assert.ErrorContains(t, err, "TSIG secret: empty secret")
}
