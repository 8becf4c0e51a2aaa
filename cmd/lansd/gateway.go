package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/gateway"
	"github.com/lansd/lansd/registry"
	"github.com/lansd/lansd/sd"
)

const gatewayExample = `  lansd gateway --config /etc/lansd/gateway.json
  lansd gateway --config gateway.json --json -v

with gateway.json (see the gateway package documentation for every member):
  {
    "links": {
      "office": {"interfaces": ["eth0.10"]},
      "guest": {"interfaces": ["eth0.20"]}
    },
    "zones": {
      "corp": {"domain": "dnssd.example.net.", "server": "192.0.2.53:53",
               "tsig_file": "/etc/lansd/gateway.key", "ttl": 120}
    },
    "rules": [
      {"from": ["office"], "to": ["guest"], "types": ["_ipp._tcp", "timezone"]},
      {"from": ["office"], "to_zones": ["corp"], "types": ["*"], "conformance": "conforming"}
    ]
  }

The gateway browses each source link for the types of its rules and
publishes on the destination links, as a proxy (SRV target and routable
addresses of the origin host, never a link-local address), each instance the
rules let cross; it withdraws it with goodbyes when the instance leaves its
source link or expires there. A name already used on a destination link is
withdrawn there, never renamed. Nothing crosses without a rule; an instance
crosses only from the link its addresses are on (no loops).

A zone (to_zones) gets each instance the rules let cross by DNS UPDATE
signed with the zone's key: PTR, SRV to HOST.LINK.ZONE, TXT, the host's
routable addresses, and the b/lb browsing-domain PTRs (RFC 6763 section
11) so that clients find the zone; the instance is deleted from the zone
within about a second of its goodbye or expiry on its link, a name taken in
the zone by other data is withdrawn (never renamed), and on exit everything
the gateway added is deleted: the zone is left as it was found. At start
each zone's server is asked whether it takes the gateway's updates: a
server that refuses (key rejected, updates refused) is a configuration
error naming zones.NAME; one that does not answer is logged and its
instances reported refused until it answers.

One line per event:
  proxied    NAME  FROM -> TO  rules[N]  addresses ...
  refused    NAME  FROM -> TO  rules[N]  why
  withdrawn  NAME  FROM -> TO  rules[N]  why (a name conflict there)
  removed    NAME  FROM -> TO  rules[N]  why
--json prints one object per line: event, instance, from, to, rule, reason,
time.

A query on a destination link for a type a rule proxies there makes the
gateway ask the rule's source links at once (at most once a second).

SIGHUP reloads the --config file. The whole file is checked first; on any
problem the running configuration is kept ("kept the old configuration
because ..."). Else it is applied in place ("reloaded ... in place"): only
what it changes changes. Proxies that still pass keep their names on the
destination links (no goodbye, no new probe) and zone records that still
pass are not written again; what no longer passes is removed (goodbyes,
deleted from its zone), what now passes is proxied, browsers and zones no
rule needs any more are closed (a zone left as found) and new ones opened.
When the destination links' interfaces change, a link's interfaces change
or a zone's definition changes, the gateway is restarted instead: every
proxy sent goodbyes and announced again, zones emptied and written again
("restarted with ... because ..."). On exit (SIGINT, SIGTERM) every proxy
and zone record withdrawn is reported removed ("gateway stopping").

A configuration error names its field, one per line, and exits 2 before
anything is sent.

Exit status: 0 (interrupted), 2 for usage and configuration errors, 3 when
the network cannot be used.`

// newGateway starts a gateway; a variable so that tests can replace it.
var newGateway = gateway.New

// reloadGateway is Gateway.Reload; a variable so that tests can replace it.
var reloadGateway = (*gateway.Gateway).Reload

// jsonGatewayEvent is one line of lansd gateway --json.
type jsonGatewayEvent struct {
	Event    string `json:"event"`
	Instance string `json:"instance"`
	From     string `json:"from"`
	To       string `json:"to"`
	Rule     int    `json:"rule"`
	Reason   string `json:"reason"`
	Time     string `json:"time"`
}

func runGateway(ctx context.Context, env *cliEnv, args []string) int {
	fs := newFlags(env, "gateway", "--config FILE [flags]", gatewayExample)
	config := fs.String("config", "", "the gateway's configuration `FILE` (JSON; required)")
	jsonOut := fs.Bool("json", false, "print one JSON object per line")
	verbose := fs.BoolP("verbose", "v", false, "log the gateway's decisions (slog debug on stderr)")
	hostname := fs.String("hostname", "", "the gateway's own mDNS host `NAME` on the destination links (default: the system's)")
	regPath := registryFlag(fs)
	if ok, code := parseFlags(env, fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fail(env, "gateway", usageErrorf("unexpected arguments %q", fs.Args()))
	}
	if *config == "" {
		return fail(env, "gateway", usageErrorf("--config FILE is required"))
	}
	if err := announce.CheckHostName(*hostname); err != nil {
		return fail(env, "gateway", usageErrorf("--hostname: %w", err))
	}
	hup, stopHup := env.subscribeHangups()
	defer stopHup()
	reg, err := loadRegistry(*regPath)
	if err != nil {
		return fail(env, "gateway", err)
	}
	cfg, ok := loadGatewayConfig(env, *config, reg)
	if !ok {
		return exitUsage
	}
	logger := newLogger(env.stderr, *verbose, slog.LevelError)
	out := &syncWriter{w: env.stdout}
	opts := gateway.Options{Registry: reg, Logger: logger, HostName: *hostname}
	start := func(cfg *gateway.Config) (*gateway.Gateway, chan struct{}, error) {
		g, err := newGateway(ctx, cfg, opts)
		if err != nil {
			return nil, nil, err
		}
		printed := make(chan struct{})
		go func() {
			defer close(printed)
			for ev := range g.Events() {
				printGatewayEvent(out, ev, *jsonOut)
			}
		}()
		return g, printed, nil
	}
	g, printed, err := start(cfg)
	if err != nil {
		if ctx.Err() != nil {
			return exitOK
		}
		return gatewayOpenError(env, err)
	}
	stop := func() {
		g.Close()
		<-printed
	}
	for {
		select {
		case <-ctx.Done():
			stop()
			return exitOK
		case <-hup:
			next, ok := loadGatewayConfig(env, *config, reg)
			if !ok {
				fmt.Fprintf(env.stderr, "lansd gateway: kept the old configuration because %s has errors\n", *config)
				continue
			}
			err := reloadGateway(g, ctx, next)
			var re *gateway.RestartError
			switch {
			case err == nil:
				fmt.Fprintf(env.stderr, "lansd gateway: reloaded %s in place\n", *config)
				continue
			case ctx.Err() != nil:
				stop()
				return exitOK
			case !errors.As(err, &re):
				printGatewayErrors(env, err)
				fmt.Fprintf(env.stderr, "lansd gateway: kept the old configuration because %s cannot be applied\n", *config)
				continue
			}
			stop()
			g, printed, err = start(next)
			if err != nil {
				if ctx.Err() != nil {
					return exitOK
				}
				return gatewayOpenError(env, err)
			}
			fmt.Fprintf(env.stderr, "lansd gateway: restarted with %s because %s\n", *config, re.Reason)
		}
	}
}

// loadGatewayConfig reads and checks the whole configuration (gateway.Load
// and NewPolicy), printing each problem on a line of its own.
func loadGatewayConfig(env *cliEnv, path string, reg *registry.Registry) (*gateway.Config, bool) {
	cfg, err := gateway.Load(path)
	if err == nil {
		_, err = gateway.NewPolicy(cfg, reg)
	}
	if err == nil {
		return cfg, true
	}
	printGatewayErrors(env, err)
	return nil, false
}

// printGatewayErrors prints err, each of ConfigErrors on a line of its own.
func printGatewayErrors(env *cliEnv, err error) {
	var ce gateway.ConfigErrors
	if errors.As(err, &ce) {
		for _, e := range ce {
			fmt.Fprintf(env.stderr, "lansd gateway: %v\n", e)
		}
		return
	}
	fmt.Fprintf(env.stderr, "lansd gateway: %v\n", err)
}

// gatewayOpenError reports a gateway that could not start: exit 2 for an
// interface that does not exist and for a zone whose server refuses the
// gateway's updates (ConfigErrors naming zones.NAME, one a line), else 3.
func gatewayOpenError(env *cliEnv, err error) int {
	var ce gateway.ConfigErrors
	if errors.As(err, &ce) {
		for _, e := range ce {
			fmt.Fprintf(env.stderr, "lansd gateway: %v\n", e)
		}
		return exitUsage
	}
	if errors.Is(err, sd.ErrUnknownInterface) {
		err = &usageError{err}
	}
	return fail(env, "gateway", err)
}

// printGatewayEvent writes one event line.
func printGatewayEvent(out *syncWriter, ev gateway.Event, jsonOut bool) {
	if jsonOut {
		b, err := marshalNoHTML(jsonGatewayEvent{Event: ev.Kind, Instance: ev.Instance, From: ev.From, To: ev.To,
			Rule: ev.Rule, Reason: ev.Reason, Time: ev.Time.Format(time.RFC3339Nano)})
		if err != nil {
			out.printf("{\"event\":%q,\"error\":%q}", ev.Kind, err.Error())
			return
		}
		out.printf("%s", b)
		return
	}
	out.printf("%-9s  %s  %s -> %s  rules[%d]  %s", ev.Kind, printable(ev.Instance), ev.From, ev.To, ev.Rule, printable(ev.Reason))
}
