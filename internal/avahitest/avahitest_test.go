package avahitest

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServiceFile(t *testing.T) {
	got := ServiceFile(Service{Name: `A & <B>`, Type: "_timezone._tcp", Port: 9000, TXT: []string{"path=/x", "k=<v>"}})
	want := "<?xml version=\"1.0\" standalone='no'?>\n<!DOCTYPE service-group SYSTEM \"avahi-service.dtd\">\n<service-group>\n" +
		"  <name>A &amp; &lt;B&gt;</name>\n  <service>\n    <type>_timezone._tcp</type>\n    <port>9000</port>\n" +
		"    <txt-record>path=/x</txt-record>\n    <txt-record>k=&lt;v&gt;</txt-record>\n  </service>\n</service-group>\n"
	assert.Equal(t, want, got)
}

func TestDaemonConfig(t *testing.T) {
	c := fmt.Sprintf(DaemonConfig, "h1", "lan0,lan1")
	assert.Contains(t, c, "\nhost-name=h1\n")
	assert.Contains(t, c, "\nallow-interfaces=lan0,lan1\n")
	assert.Contains(t, c, "\nenable-dbus=yes\n")
	assert.NotContains(t, c, "%!")
	assert.NotContains(t, fmt.Sprintf(DBusConfig, "/tmp/x/bus"), "%!")
}

func TestCheckMounts(t *testing.T) {
	info := "22 1 0:21 / /proc rw,nosuid - proc proc rw\n" +
		"30 22 0:25 / /run rw - tmpfs tmpfs rw\n"
	require.NoError(t, checkMounts(strings.NewReader(info), "/run/avahi-daemon", "/etc/avahi/services"))
	leak := info + "41 30 0:40 / /run/avahi-daemon rw - tmpfs tmpfs rw,size=1024k\n"
	require.ErrorContains(t, checkMounts(strings.NewReader(leak), "/run/avahi-daemon"), "leaked")
}

func TestShQuote(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	for _, s := range []string{"", "a b", "it's", `'"$x\`} {
		out, err := exec.Command(sh, "-c", "printf %s "+ShQuote(s)).Output()
		require.NoError(t, err)
		assert.Equal(t, s, string(out))
	}
}
