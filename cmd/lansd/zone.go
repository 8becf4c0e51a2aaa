package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/txt"
	"github.com/lansd/lansd/wide"
)

const zoneExample = `  lansd zone --service timezone --name "Office TZ" --port 8080 --txt path=/tz \
      --domain tz.example.net --host h1.tz.example.net --addr 198.51.100.7

Prints the records that publish the service in a unicast DNS zone (RFC 6763),
like dns-sd -Z: the _services._dns-sd._udp PTR, the PTR from the service type,
subtype PTRs, SRV, TXT and, with --addr, the host's A and AAAA records, as
zone-file lines (RFC 1035 section 5) to paste into the zone file. They are
the records the wide-area registrar writes. A single-label --host lies in
--domain; --addr needs a --host inside the domain. (nsupdate does not read
the "\ " escape in names; write a space there as .)

--txt strings are key=value, key= (empty value) or key (boolean attribute);
a byte that cannot be typed is written \xHH, a backslash \\.
Exit status: 0 printed, 2 for invalid input (the findings are printed).`

// zoneFlags are the parsed flags of lansd zone.
type zoneFlags struct {
	service, name, domain, host, ttl string
	port                             uint16
	txts, subtypes, addrs            []string
}

func runZone(_ context.Context, env *cliEnv, args []string) int {
	fs := newFlags(env, "zone",
		"--service TYPE --name NAME --port PORT --domain DOMAIN [--txt key=value ...] [--host HOST --addr IP ...] [flags]", zoneExample)
	var f zoneFlags
	fs.StringVarP(&f.service, "service", "s", "", "service `TYPE`: a registered name (timezone) or _name._tcp / _name._udp")
	fs.StringVarP(&f.name, "name", "n", "", "instance `NAME`, e.g. \"Office TZ\"")
	fs.Uint16VarP(&f.port, "port", "p", 0, "`PORT` the service listens on")
	fs.StringArrayVar(&f.txts, "txt", nil, "a TXT string `key=value` (repeat for more)")
	fs.StringArrayVar(&f.subtypes, "subtype", nil, "publish subtype `LABEL` too, e.g. _printer (repeat for more)")
	fs.StringVarP(&f.domain, "domain", "d", "", "the `DOMAIN` (zone) to publish in, e.g. tz.example.net")
	fs.StringVar(&f.host, "host", "", "SRV target `HOST` (default: this machine's name in the domain)")
	fs.StringArrayVar(&f.addrs, "addr", nil, "an `IP` address of --host, written as an A or AAAA record (repeat for more)")
	fs.StringVar(&f.ttl, "ttl", "", "`TTL` of the records, in seconds or as a duration like 2m (default 120)")
	regPath := registryFlag(fs)
	if ok, code := parseFlags(env, fs, args); !ok {
		return code
	}
	if len(fs.Args()) > 0 {
		return fail(env, "zone", usageErrorf("unexpected argument %q (TXT strings go in --txt key=value)", fs.Args()[0]))
	}
	var missing []string
	for _, name := range []string{"service", "name", "port", "domain"} {
		if !fs.Changed(name) {
			missing = append(missing, "--"+name)
		}
	}
	if len(missing) > 0 {
		return fail(env, "zone", usageErrorf("missing %s", strings.Join(missing, ", ")))
	}
	reg, err := loadRegistry(*regPath)
	if err != nil {
		return fail(env, "zone", err)
	}
	rec, err := txt.ParseArgs(f.txts)
	if err != nil {
		return fail(env, "zone", usageErrorf("--txt: %w", err))
	}
	ttl, err := parseTTL(f.ttl)
	if err != nil {
		return fail(env, "zone", err)
	}
	addrs, err := parseAddrs(f.addrs, f.host, f.domain)
	if err != nil {
		return fail(env, "zone", err)
	}
	svc := announce.Service{Instance: f.name, Type: f.service, Subtypes: f.subtypes, Port: f.port, TXT: rec}
	recs, err := wide.BuildRecords(svc, wide.RecordOptions{
		Zone: f.domain, HostName: f.host, Addrs: addrs, TTL: ttl, Registry: reg,
	})
	if err != nil {
		printZoneFindings(env.stderr, err)
		return exitUsage
	}
	for _, w := range recs.Report.Warnings() {
		fmt.Fprintf(env.stderr, "lansd zone: --txt %v\n", w)
	}
	printZone(env.stdout, recs)
	return exitOK
}

// parseTTL reads --ttl: whole seconds ("120") or a duration ("2m").
func parseTTL(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		if n == 0 {
			return 0, usageErrorf("--ttl %q: want at least 1 second", s)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, usageErrorf("--ttl %q: want seconds (120) or a duration (2m)", s)
	}
	if d < time.Second {
		return 0, usageErrorf("--ttl %q: want at least 1 second", s)
	}
	return d, nil
}

// parseAddrs reads the --addr flags; they need a --host inside the domain.
func parseAddrs(args []string, host, domain string) ([]netip.Addr, error) {
	if len(args) == 0 {
		return nil, nil
	}
	if host == "" {
		return nil, usageErrorf("--addr needs --host: the host name the addresses belong to")
	}
	h := strings.TrimSuffix(host, ".")
	if strings.Contains(h, ".") && !dns.IsSubDomain(dns.Fqdn(domain), dns.Fqdn(h)) {
		return nil, usageErrorf("--addr: host %s is outside --domain %s, so its addresses cannot go in this zone", dns.Fqdn(h), dns.Fqdn(domain))
	}
	var out []netip.Addr
	for i, a := range args {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return nil, usageErrorf("--addr[%d] %q: not an IP address", i, a)
		}
		if ip.Zone() != "" || ip.IsUnspecified() || ip.IsMulticast() {
			return nil, usageErrorf("--addr[%d] %q: not an address a host can be reached at", i, a)
		}
		out = append(out, ip)
	}
	return out, nil
}

// printZone writes the records as zone-file lines with comments.
func printZone(w io.Writer, z *wide.Records) {
	fmt.Fprintf(w, "; DNS-SD records for %s (RFC 6763)\n", z.Instance)
	fmt.Fprintln(w, "; Service type enumeration (section 9):")
	fmt.Fprintln(w, z.ServicesPTR)
	fmt.Fprintln(w, "; Browsing: the service type points at the instance (section 4.1):")
	fmt.Fprintln(w, z.PTR)
	if len(z.SubtypePTRs) > 0 {
		fmt.Fprintln(w, "; Subtypes (section 7.1):")
		for _, p := range z.SubtypePTRs {
			fmt.Fprintln(w, p)
		}
	}
	fmt.Fprintln(w, "; The instance: host and port (section 5), TXT record (section 6):")
	fmt.Fprintln(w, z.SRV)
	fmt.Fprintln(w, z.TXT)
	if len(z.Addrs) > 0 {
		fmt.Fprintf(w, "; Addresses of %s:\n", z.SRV.Target)
		for _, a := range z.Addrs {
			fmt.Fprintln(w, a)
		}
	}
}
