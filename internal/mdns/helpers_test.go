package mdns_test

// Helper processes for the network tests. They run only inside namespaces
// made by lantest, after its guard has verified that (see lantest.Guard);
// mustBeGuarded re-checks before anything is opened.

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/internal/lantest"
	"github.com/lansd/lansd/internal/mdns"
)

func init() {
	lantest.RegisterHelper("mdns-node", helperNode)
	lantest.RegisterHelper("mdns-close", helperClose)
	lantest.RegisterHelper("mdns-listen-err", helperListenErr)
	lantest.RegisterHelper("raw-send", helperRawSend)
}

// out serialises helper output lines.
var outMu sync.Mutex

func emit(kind string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprintf("%q", err.Error()))
	}
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Printf("%s %s\n", kind, b)
}

// nodeConfig reads the Listen configuration from the environment:
// FAMILIES ("4", "6", "4,6"), IFACES (comma separated), RESCAN (duration),
// EXCLUDE (comma separated globs; set but empty means an empty list),
// TEMPADDRS=1, NOEVENTS=1 (periodic rescans only), and DEBUG=1 for debug
// logs on stderr.
func nodeConfig() (mdns.Config, error) {
	var cfg mdns.Config
	if v, ok := os.LookupEnv("EXCLUDE"); ok {
		cfg.Exclude = []string{}
		if v != "" {
			cfg.Exclude = strings.Split(v, ",")
		}
	}
	cfg.TemporaryAddrs = os.Getenv("TEMPADDRS") == "1"
	if os.Getenv("NOEVENTS") == "1" {
		mdns.NoEvents()
	}
	if os.Getenv("DEBUG") == "1" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if v := os.Getenv("FAMILIES"); v != "" {
		for _, f := range strings.Split(v, ",") {
			switch f {
			case "4":
				cfg.Families = append(cfg.Families, mdns.IPv4)
			case "6":
				cfg.Families = append(cfg.Families, mdns.IPv6)
			default:
				return cfg, fmt.Errorf("FAMILIES: bad %q", f)
			}
		}
	}
	if v := os.Getenv("IFACES"); v != "" {
		cfg.Interfaces = strings.Split(v, ",")
	}
	if v := os.Getenv("RESCAN"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return cfg, fmt.Errorf("RESCAN: %w", err)
		}
		cfg.Rescan = d
	}
	return cfg, nil
}

// ifaceInfo is how helpers report interfaces.
type ifaceInfo struct {
	Index int      `json:"index"`
	Name  string   `json:"name"`
	MTU   int      `json:"mtu"`
	Addrs []string `json:"addrs"`
}

func infos(ifs []mdns.Interface) []ifaceInfo {
	out := make([]ifaceInfo, 0, len(ifs))
	for _, i := range ifs {
		ii := ifaceInfo{Index: i.Index, Name: i.Name, MTU: i.MTU}
		for _, a := range i.Addrs {
			ii.Addrs = append(ii.Addrs, a.String())
		}
		out = append(out, ii)
	}
	return out
}

func strs(addrs []netip.Addr) []string {
	out := []string{}
	for _, a := range addrs {
		out = append(out, a.String())
	}
	return out
}

// changeInfo is how helpers report an InterfaceChange; At is the wall clock
// time of the report (Unix nanoseconds), for latency measurements.
type changeInfo struct {
	At      int64            `json:"at"`
	Added   []ifaceInfo      `json:"added"`
	Removed []ifaceInfo      `json:"removed"`
	Changed []addrChangeInfo `json:"changed"`
}

type addrChangeInfo struct {
	Iface   ifaceInfo `json:"iface"`
	Added   []string  `json:"added"`
	Removed []string  `json:"removed"`
}

// readyInfo is printed once Listen succeeded.
type readyInfo struct {
	Ifaces   []ifaceInfo    `json:"ifaces"`
	Families []mdns.Family  `json:"families"`
	Index    map[string]int `json:"index"` // every interface in the namespace, by name
}

// pktInfo is printed per received packet.
type pktInfo struct {
	ID        uint16 `json:"id"`
	QName     string `json:"qname"`
	IfIndex   int    `json:"ifindex"`
	IfName    string `json:"ifname"` // from the kernel, not from the Conn
	Served    bool   `json:"served"` // Conn.Interface(IfIndex) found it
	Src       string `json:"src"`
	Dst       string `json:"dst"`
	Family    int    `json:"family"`
	Size      int    `json:"size"`
	Multicast bool   `json:"multicast"`
}

// sendReq is a SEND command.
type sendReq struct {
	ID     uint16 `json:"id"`
	Family int    `json:"family"`
	IfName string `json:"ifname,omitempty"` // "" = all (multicast) or routing (unicast)
	To     string `json:"to,omitempty"`     // unicast destination; "" = multicast
	Pad    int    `json:"pad,omitempty"`    // add TXT data to reach about this size
}

type sendResult struct {
	ID  uint16 `json:"id"`
	Err string `json:"err"`
}

type statsReply struct {
	Seq   string     `json:"seq"`
	Stats mdns.Stats `json:"stats"`
}

func queryMsg(id uint16, pad int) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(fmt.Sprintf("n-%d.local.", id), dns.TypeA)
	m.Id = id
	for pad > 0 {
		chunk := strings.Repeat("x", 250)
		txt := &dns.TXT{Hdr: dns.RR_Header{Name: m.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 120}, Txt: []string{chunk}}
		m.Extra = append(m.Extra, txt)
		pad -= 250
	}
	return m
}

func ifIndex(name string) (int, error) {
	if name == "" {
		return 0, nil
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return 0, err
	}
	return ifi.Index, nil
}

// helperNode runs a Conn and obeys commands on stdin:
// SEND <sendReq>, STATS <seq>, IFACES <seq>, CLOSE.
func helperNode() int {
	lantest.MustBeGuarded()
	cfg, err := nodeConfig()
	if err != nil {
		emit("FATAL", err.Error())
		return 1
	}
	cfg.OnChange = func(c mdns.InterfaceChange) {
		ch := changeInfo{At: time.Now().UnixNano(), Added: infos(c.Added), Removed: infos(c.Removed), Changed: []addrChangeInfo{}}
		for _, a := range c.Changed {
			ch.Changed = append(ch.Changed, addrChangeInfo{Iface: infos([]mdns.Interface{a.Interface})[0], Added: strs(a.Added), Removed: strs(a.Removed)})
		}
		emit("CHANGE", ch)
	}
	ctx := context.Background()
	c, err := mdns.Listen(ctx, cfg)
	if err != nil {
		emit("FATAL", err.Error())
		return 1
	}
	all, _ := net.Interfaces()
	idx := map[string]int{}
	for _, i := range all {
		idx[i.Name] = i.Index
	}
	emit("READY", readyInfo{Ifaces: infos(c.Interfaces()), Families: c.Families(), Index: idx})
	// READ_DELAY: the reader starts late (a consumer busy elsewhere).
	readDelay, _ := time.ParseDuration(os.Getenv("READ_DELAY"))
	go func() {
		time.Sleep(readDelay)
		for {
			p, err := c.ReadPacket(ctx)
			if err != nil {
				emit("READERR", err.Error())
				return
			}
			pi := pktInfo{ID: p.Msg.Id, IfIndex: p.IfIndex, Src: p.Src.String(), Dst: p.Dst.String(),
				Family: int(p.Family), Size: p.Size, Multicast: p.Multicast()}
			if len(p.Msg.Question) > 0 {
				pi.QName = p.Msg.Question[0].Name
			}
			if ifi, err := net.InterfaceByIndex(p.IfIndex); err == nil {
				pi.IfName = ifi.Name
			}
			_, pi.Served = c.Interface(p.IfIndex)
			emit("PKT", pi)
		}
	}()
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		cmd, arg, _ := strings.Cut(sc.Text(), " ")
		switch cmd {
		case "SEND":
			var r sendReq
			if err := json.Unmarshal([]byte(arg), &r); err != nil {
				emit("FATAL", err.Error())
				return 1
			}
			res := sendResult{ID: r.ID}
			err := nodeSend(ctx, c, r)
			if err != nil {
				res.Err = err.Error()
			}
			emit("SENT", res)
		case "STATS":
			emit("STATS", statsReply{Seq: arg, Stats: c.Stats()})
		case "IFACES":
			emit("IFACES", map[string]any{"seq": arg, "ifaces": infos(c.Interfaces())})
		case "CLOSE":
			emit("CLOSED", fmt.Sprint(c.Close()))
			return 0
		}
	}
	_ = c.Close()
	return 0
}

func nodeSend(ctx context.Context, c *mdns.Conn, r sendReq) error {
	idx, err := ifIndex(r.IfName)
	if err != nil {
		return err
	}
	m := queryMsg(r.ID, r.Pad)
	if r.To == "" {
		return c.SendMulticast(ctx, m, idx, mdns.Family(r.Family))
	}
	to, err := netip.ParseAddrPort(r.To)
	if err != nil {
		return err
	}
	return c.SendUnicast(ctx, m, to, idx)
}

// helperClose checks that Close stops every goroutine and unblocks readers.
func helperClose() int {
	lantest.MustBeGuarded()
	before := runtime.NumGoroutine()
	c, err := mdns.Listen(context.Background(), mdns.Config{Rescan: 50 * time.Millisecond})
	if err != nil {
		emit("FATAL", err.Error())
		return 1
	}
	during := runtime.NumGoroutine()
	readErr := make(chan error, 1)
	go func() {
		_, err := c.ReadPacket(context.Background())
		readErr <- err
	}()
	time.Sleep(120 * time.Millisecond) // let a rescan or two happen
	err1 := c.Close()
	var rerr error
	select {
	case rerr = <-readErr:
	case <-time.After(5 * time.Second):
		rerr = errors.New("ReadPacket still blocked after Close")
	}
	err2 := c.Close()
	after := runtime.NumGoroutine()
	for i := 0; i < 100 && after > before; i++ {
		time.Sleep(10 * time.Millisecond)
		after = runtime.NumGoroutine()
	}
	_, err3 := c.ReadPacket(context.Background())
	emit("CLOSE", map[string]any{
		"before": before, "during": during, "after": after,
		"close1": fmt.Sprint(err1), "close2": fmt.Sprint(err2),
		"readErrClosed":  errors.Is(rerr, mdns.ErrClosed),
		"readErr":        fmt.Sprint(rerr),
		"afterErrClosed": errors.Is(err3, net.ErrClosed),
		"sendErrClosed":  errors.Is(c.SendMulticast(context.Background(), queryMsg(1, 0), 0, mdns.IPv4), mdns.ErrClosed),
	})
	return 0
}

// helperListenErr reports the error of Listen with the environment's config.
func helperListenErr() int {
	lantest.MustBeGuarded()
	cfg, err := nodeConfig()
	if err != nil {
		emit("FATAL", err.Error())
		return 1
	}
	c, err := mdns.Listen(context.Background(), cfg)
	res := map[string]any{
		"err":          fmt.Sprint(err),
		"unknownIface": errors.Is(err, mdns.ErrUnknownInterface),
		"noIface":      errors.Is(err, mdns.ErrNoInterface),
	}
	if c != nil {
		res["families"] = c.Families()
		_ = c.Close()
	}
	emit("LISTEN", res)
	return 0
}

// helperRawSend sends the hex payloads in HEX (comma separated) from a plain
// UDP socket to DST, in order.
func helperRawSend() int {
	lantest.MustBeGuarded()
	to, err := net.ResolveUDPAddr("udp", os.Getenv("DST"))
	if err != nil {
		emit("FATAL", err.Error())
		return 1
	}
	network := "udp4"
	if to.IP.To4() == nil {
		network = "udp6"
	}
	c, err := net.ListenUDP(network, nil)
	if err != nil {
		emit("FATAL", err.Error())
		return 1
	}
	defer c.Close()
	for i, h := range strings.Split(os.Getenv("HEX"), ",") {
		b, err := hex.DecodeString(h)
		if err != nil {
			emit("FATAL", err.Error())
			return 1
		}
		if _, err := c.WriteTo(b, to); err != nil {
			emit("FATAL", fmt.Sprintf("payload %d: %v", i, err))
			return 1
		}
	}
	emit("RAWSENT", c.LocalAddr().String())
	return 0
}
