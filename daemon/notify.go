package daemon

import (
	"fmt"
	"net"
	"os"
	"strings"
)

// Notify sends state to the service manager, as sd_notify(3) does,
// without cgo: "READY=1" once the daemon serves, "STOPPING=1" when it
// stops, "RELOADING=1", "STATUS=...". It writes one datagram to the
// unixgram socket named by $NOTIFY_SOCKET (a path, or "@name" for the
// abstract namespace) and does nothing, returning nil, when the variable
// is not set (not started by systemd, or not Type=notify).
func Notify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if !strings.HasPrefix(path, "/") && !strings.HasPrefix(path, "@") {
		return fmt.Errorf("daemon: NOTIFY_SOCKET %q: not a path nor an abstract socket", path)
	}
	name := path
	if strings.HasPrefix(name, "@") {
		name = "\x00" + name[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("daemon: notify: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("daemon: notify: %w", err)
	}
	return nil
}
