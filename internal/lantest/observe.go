package lantest

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// observerHelper is the built-in helper that captures on the bridge.
const observerHelper = "lantest-observer"

// Captured is one UDP datagram seen crossing the LAN's bridge: one sent
// datagram is one Captured, however many ports it is flooded to.
type Captured struct {
	// Time is when the observer read the frame.
	Time time.Time
	// Src and Dst are the IP endpoints (no zone).
	Src, Dst netip.AddrPort
	// Msg is the payload unpacked as DNS, nil when it does not unpack.
	Msg *dns.Msg
	// Size is the UDP payload size in bytes.
	Size int
	// Payload is the UDP payload.
	Payload []byte
	// Ifname is the switch-side interface the frame was captured on (br0).
	Ifname string
}

// Observer receives the UDP traffic crossing a LAN's bridge from a capture
// helper running in the switch namespace.
type Observer struct {
	proc *Proc

	mu      sync.Mutex
	pkts    []Captured
	bad     []string
	changed chan struct{}
}

// wirePacket is the JSON line the capture helper prints per datagram.
type wirePacket struct {
	T   int64  `json:"t"`
	Src string `json:"src"`
	Dst string `json:"dst"`
	If  string `json:"if"`
	Hex string `json:"hex"`
}

var readyLine = regexp.MustCompile(`^LANTEST-OBSERVER-READY`)

// Observe starts capturing on the bridge and returns once the capture socket
// is open. It captures every UDP datagram to or from port 5353, and any other
// UDP datagram whose payload unpacks as DNS.
//
// The capture is an AF_PACKET socket bound to br0 with promiscuous
// membership. Measured here: every frame a host sends, multicast or unicast,
// appears exactly once on br0 (the bridge hands one copy of each frame to its
// own device, whatever the number of ports it floods to), so one sent datagram
// is one Captured. Frames dropped by SetLoss are still captured (the drop
// happens on the output port). IP fragments are not reassembled and are
// skipped.
func (l *LAN) Observe(t testing.TB) *Observer {
	t.Helper()
	o := &Observer{changed: make(chan struct{})}
	o.proc = helperProc(t, l.Switch, "sw", observerHelper, o.line)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := o.proc.WaitFor(ctx, readyLine); err != nil {
		t.Fatalf("lantest: observer did not start: %v\n%v", err, o.proc.Lines())
	}
	return o
}

// line decodes one output line of the capture helper.
func (o *Observer) line(s Stream, line string) {
	if s != Stdout || len(line) == 0 || line[0] != '{' {
		return
	}
	var w wirePacket
	c, err := decodeWire(line, &w)
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		o.bad = append(o.bad, fmt.Sprintf("%v: %q", err, line))
	} else {
		o.pkts = append(o.pkts, c)
	}
	close(o.changed)
	o.changed = make(chan struct{})
}

func decodeWire(line string, w *wirePacket) (Captured, error) {
	if err := json.Unmarshal([]byte(line), w); err != nil {
		return Captured{}, fmt.Errorf("observer line: %w", err)
	}
	src, err := netip.ParseAddrPort(w.Src)
	if err != nil {
		return Captured{}, fmt.Errorf("observer src: %w", err)
	}
	dst, err := netip.ParseAddrPort(w.Dst)
	if err != nil {
		return Captured{}, fmt.Errorf("observer dst: %w", err)
	}
	payload, err := hex.DecodeString(w.Hex)
	if err != nil {
		return Captured{}, fmt.Errorf("observer payload: %w", err)
	}
	c := Captured{
		Time:    time.Unix(0, w.T),
		Src:     src,
		Dst:     dst,
		Size:    len(payload),
		Payload: payload,
		Ifname:  w.If,
	}
	m := new(dns.Msg)
	if m.Unpack(payload) == nil {
		c.Msg = m
	}
	return c, nil
}

// Packets returns everything captured so far, in capture order.
func (o *Observer) Packets() []Captured {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Captured(nil), o.pkts...)
}

// Errors returns observer output lines that could not be decoded (a harness
// bug if any).
func (o *Observer) Errors() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.bad...)
}

// WaitFor returns the first captured packet (past or future) for which match
// returns true. It fails when ctx ends or the capture helper dies.
func (o *Observer) WaitFor(ctx context.Context, match func(Captured) bool) (Captured, error) {
	seen := 0
	for {
		o.mu.Lock()
		pkts, changed := o.pkts[seen:], o.changed
		o.mu.Unlock()
		for _, c := range pkts {
			if match(c) {
				return c, nil
			}
		}
		seen += len(pkts)
		if o.proc.Exited() {
			return Captured{}, fmt.Errorf("lantest: observer exited: %v", o.proc.Lines())
		}
		select {
		case <-ctx.Done():
			return Captured{}, fmt.Errorf("lantest: waiting for a captured packet: %w", ctx.Err())
		case <-changed:
		case <-o.proc.done:
		}
	}
}

// runObserver is the capture helper; it runs in the switch namespace after
// the guard has passed.
func runObserver() int {
	if err := observe(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "lantest observer:", err)
		return 1
	}
	return 0
}

// parseFrame extracts the UDP endpoints and payload from an Ethernet frame
// carrying IPv4 or IPv6. Fragments and anything else give ok == false.
func parseFrame(b []byte) (src, dst netip.AddrPort, payload []byte, ok bool) {
	be := binary.BigEndian
	if len(b) < 14 {
		return
	}
	etype, off := be.Uint16(b[12:14]), 14
	if etype == 0x8100 && len(b) >= 18 { // 802.1Q tag
		etype, off = be.Uint16(b[16:18]), 18
	}
	ip := b[off:]
	var sip, dip netip.Addr
	var udp []byte
	switch etype {
	case 0x0800:
		if len(ip) < 20 || ip[0]>>4 != 4 {
			return
		}
		ihl := int(ip[0]&0x0f) * 4
		total := int(be.Uint16(ip[2:4]))
		if ihl < 20 || total < ihl || total > len(ip) || ip[9] != 17 {
			return
		}
		if be.Uint16(ip[6:8])&0x3fff != 0 { // more fragments, or an offset
			return
		}
		sip = netip.AddrFrom4([4]byte(ip[12:16]))
		dip = netip.AddrFrom4([4]byte(ip[16:20]))
		udp = ip[ihl:total]
	case 0x86dd:
		if len(ip) < 40 || ip[0]>>4 != 6 {
			return
		}
		plen := int(be.Uint16(ip[4:6]))
		if 40+plen > len(ip) {
			return
		}
		sip = netip.AddrFrom16([16]byte(ip[8:24]))
		dip = netip.AddrFrom16([16]byte(ip[24:40]))
		next, rest := ip[6], ip[40:40+plen]
		for next != 17 {
			switch next {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if len(rest) < 8 {
					return
				}
				hl := (int(rest[1]) + 1) * 8
				if hl > len(rest) {
					return
				}
				next, rest = rest[0], rest[hl:]
			default: // fragments (44) and everything else
				return
			}
		}
		udp = rest
	default:
		return
	}
	if len(udp) < 8 {
		return
	}
	ulen := int(be.Uint16(udp[4:6]))
	if ulen < 8 || ulen > len(udp) {
		return
	}
	src = netip.AddrPortFrom(sip, be.Uint16(udp[0:2]))
	dst = netip.AddrPortFrom(dip, be.Uint16(udp[2:4]))
	return src, dst, udp[8:ulen], true
}
