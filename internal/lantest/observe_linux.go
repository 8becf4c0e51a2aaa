//go:build linux

package lantest

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"time"
	"unsafe"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// observe captures every frame crossing the bridge (an AF_PACKET socket on
// br0, promiscuous) and prints the UDP datagrams that are mDNS or DNS as JSON
// lines on out.
func observe(out *os.File) error {
	ifi, err := net.InterfaceByName(Bridge)
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return fmt.Errorf("AF_PACKET socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20); err != nil {
		return fmt.Errorf("SO_RCVBUF: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		return fmt.Errorf("bind %s: %w", Bridge, err)
	}
	// Promiscuous: the bridge then passes forwarded unicast frames to br0 too.
	mreq := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
		return fmt.Errorf("promiscuous %s: %w", Bridge, err)
	}
	// Kernel receive timestamps: spacing measured on the wire must not
	// depend on how quickly this process is scheduled on a loaded machine.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return fmt.Errorf("SO_TIMESTAMPNS: %w", err)
	}
	w := bufio.NewWriter(out)
	fmt.Fprintln(w, "LANTEST-OBSERVER-READY", Bridge, ifi.Index)
	if err := w.Flush(); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	buf := make([]byte, 65536+64)
	oob := make([]byte, 128)
	for {
		n, oobn, _, from, err := unix.Recvmsg(fd, buf, oob, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("recvmsg: %w", err)
		}
		now := kernelTime(oob[:oobn])
		sll, ok := from.(*unix.SockaddrLinklayer)
		if !ok || sll.Ifindex != ifi.Index || sll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		src, dst, payload, ok := parseFrame(buf[:n])
		if !ok {
			continue
		}
		if src.Port() != 5353 && dst.Port() != 5353 && new(dns.Msg).Unpack(payload) != nil {
			continue
		}
		if err := enc.Encode(wirePacket{
			T:   now.UnixNano(),
			Src: src.String(),
			Dst: dst.String(),
			If:  Bridge,
			Hex: hex.EncodeToString(payload),
		}); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
}

// kernelTime returns the SCM_TIMESTAMPNS receive time in oob, or the
// current time when the kernel gave none.
func kernelTime(oob []byte) time.Time {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err == nil {
		for _, m := range msgs {
			if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
				ts := *(*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
				return time.Unix(int64(ts.Sec), int64(ts.Nsec))
			}
		}
	}
	return time.Now()
}
