package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/lansd/lansd/registry"
)

const registryExample = `  lansd registry list
  lansd registry list --txt-keys --registry service-names-port-numbers.csv
  lansd registry show timezone
  lansd registry show _jnx-kcsync._tcp
  lansd registry check service-names-port-numbers.csv

Subcommands:
  list            one line per service name: DNS-SD type, TXT rules, description
  show NAME       everything the registry says about NAME (a name or a DNS-SD type)
  check [FILE]    parse FILE (default: --registry or the built-in set) and summarise it`

func runRegistry(_ context.Context, env *cliEnv, args []string) int {
	fs := newFlags(env, "registry", "(list [--txt-keys] | show NAME | check [FILE]) [--registry FILE]", registryExample)
	txtKeys := fs.Bool("txt-keys", false, "list: only services whose notes define TXT keys, with their rules")
	regPath := registryFlag(fs)
	if ok, code := parseFlags(env, fs, args); !ok {
		return code
	}
	rest := fs.Args()
	if len(rest) == 0 {
		printUsage(env.stderr, fs)
		return exitUsage
	}
	sub, rest := rest[0], rest[1:]
	switch sub {
	case "list":
		if len(rest) != 0 {
			return fail(env, "registry list", usageErrorf("unexpected argument %q", rest[0]))
		}
		reg, err := loadRegistry(*regPath)
		if err != nil {
			return fail(env, "registry list", err)
		}
		listServices(env.stdout, reg, *txtKeys)
		return exitOK
	case "show":
		if len(rest) != 1 {
			return fail(env, "registry show", usageErrorf("want exactly one service name or type"))
		}
		reg, err := loadRegistry(*regPath)
		if err != nil {
			return fail(env, "registry show", err)
		}
		svc, ok := reg.Lookup(rest[0])
		if !ok {
			return fail(env, "registry show", usageErrorf("%q is not in the registry", rest[0]))
		}
		showService(env.stdout, svc)
		return exitOK
	case "check":
		path := *regPath
		switch len(rest) {
		case 0:
		case 1:
			path = rest[0]
		default:
			return fail(env, "registry check", usageErrorf("want at most one FILE"))
		}
		reg, err := loadRegistry(path)
		if err != nil {
			return fail(env, "registry check", err)
		}
		name := path
		if name == "" {
			name = "built-in registry"
		}
		printSummary(env.stdout, name, reg.Summary())
		return exitOK
	}
	return fail(env, "registry", usageErrorf("unknown subcommand %q (want list, show or check)", sub))
}

// rulesText renders a service's TXT rules on one line.
func rulesText(r registry.Rules) string {
	switch r.Kind {
	case registry.RulesKeys:
		// Compact: the key and the kind of check its value gets
		// ("registry show" prints the registry's own descriptions).
		keys := make([]string, len(r.Keys))
		for i, k := range r.Keys {
			keys[i] = k.Key
			switch k.Value {
			case registry.ValueHex:
				keys[i] += fmt.Sprintf("=<%d hex>", k.Len)
			case registry.ValuePath:
				keys[i] += "=<path>"
			}
		}
		s := strings.Join(keys, " ")
		if r.Open {
			s += " (and other keys)"
		}
		return s
	case registry.RulesNone:
		return "none defined"
	case registry.RulesUnknown:
		return "not knowable (" + r.Reason + ")"
	}
	return "-"
}

func listServices(w io.Writer, reg *registry.Registry, onlyTXT bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tTXT KEYS\tDESCRIPTION")
	for _, s := range reg.Services() {
		if onlyTXT && s.TXT.Kind == registry.RulesAbsent {
			continue
		}
		typ := s.Type()
		if !s.Usable() {
			typ = "(not usable)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, typ, oneLine(rulesText(s.TXT), 70), oneLine(s.Description, 50))
	}
	tw.Flush()
}

func showService(w io.Writer, s *registry.Service) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Name:\t%s\n", s.Name)
	if s.Usable() {
		fmt.Fprintf(tw, "DNS-SD type:\t%s\n", s.Type())
	} else {
		fmt.Fprintf(tw, "Status:\t%s\n", s.Status())
	}
	fmt.Fprintf(tw, "Protocols:\t%s\n", orDash(strings.Join(s.Protocols, ", ")))
	var ports []string
	for _, p := range s.Ports {
		if p.Low == p.High {
			ports = append(ports, fmt.Sprintf("%d/%s", p.Low, p.Protocol))
		} else {
			ports = append(ports, fmt.Sprintf("%d-%d/%s", p.Low, p.High, p.Protocol))
		}
	}
	fmt.Fprintf(tw, "Ports:\t%s\n", orDash(strings.Join(ports, ", ")))
	fmt.Fprintf(tw, "Description:\t%s\n", oneLine(s.Description, 0))
	fmt.Fprintf(tw, "References:\t%s\n", orDash(strings.Join(s.References, " ")))
	fmt.Fprintf(tw, "Records:\t%d (first at line %d)\n", len(s.Records), s.Records[0].Line)
	fmt.Fprintf(tw, "TXT rules:\t%s\n", s.TXT.Kind)
	tw.Flush()
	for _, k := range s.TXT.Keys {
		check := k.Value.String()
		if k.Value == registry.ValueHex {
			check = fmt.Sprintf("exactly %d hex digits", k.Len)
		}
		if k.Value == registry.ValuePath {
			check = "absolute URI path (RFC 3986 section 3.3)"
		}
		if k.Value == registry.ValueAny {
			check = "any value"
		}
		fmt.Fprintf(w, "  %-10s %-24s %s\n", k.Key, k.Description, check)
	}
	if s.TXT.Open {
		fmt.Fprintln(w, "  (other keys are permitted)")
	}
	if s.TXT.Kind == registry.RulesUnknown {
		fmt.Fprintf(w, "  not knowable: %s\n", s.TXT.Reason)
	}
	if s.TXT.Text != "" {
		fmt.Fprintf(w, "Registry note:  Defined TXT keys: %s\n", oneLine(s.TXT.Text, 0))
	}
}

func printSummary(w io.Writer, name string, sum registry.Summary) {
	fmt.Fprintf(w, "%s\n", name)
	fmt.Fprintf(w, "  records:                       %d\n", sum.Records)
	fmt.Fprintf(w, "  distinct service names:        %d\n", sum.Names)
	fmt.Fprintf(w, "  records with \"Defined TXT keys\": %d (%d counting variant spellings)\n", sum.TXTRecordsExact, sum.TXTRecords)
	kinds := make([]registry.RuleKind, 0, len(sum.Rules))
	for k := range sum.Rules {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return kinds[i] < kinds[j] })
	for _, k := range kinds {
		fmt.Fprintf(w, "    rules %-8s               %d\n", k.String()+":", sum.Rules[k])
	}
	fmt.Fprintf(w, "  names not usable as DNS-SD types (RFC 6335 section 5.1): %d\n", len(sum.Unusable))
	for i, n := range sum.Unusable {
		if i == 10 {
			fmt.Fprintf(w, "    ... and %d more\n", len(sum.Unusable)-10)
			break
		}
		fmt.Fprintf(w, "    %q\n", n)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine folds white space and cuts s to max runes (0: no limit).
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); max > 0 && len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}
