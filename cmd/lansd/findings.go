package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/lansd/lansd/announce"
	"github.com/lansd/lansd/sd"
	"github.com/lansd/lansd/txt"
)

// What validation found, as lansd validate, announce, zone and browse print
// it: TXT findings (*txt.Error) one a line, problems with a service's
// fields (*sd.FieldError) named by the flag or the configuration
// path that set the field, and the verdict of a refusal.

// fieldFlags names the flags that set announce.Service's fields, in lansd
// announce and lansd zone.
var fieldFlags = map[string]string{
	"Instance": "--name",
	"Type":     "--service",
	"Subtypes": "--subtype",
	"Domain":   "--domain",
	"Port":     "--port",
	"Host":     "--host",
	"TXT":      "--txt",
}

// zoneFieldFlags names the flags of lansd zone that set the fields of
// wide.RecordOptions: there --host is also the host name and
// --domain the zone.
var zoneFieldFlags = map[string]string{
	"HostName": "--host",
	"TTL":      "--ttl",
	"Zone":     "--domain",
}

// flagOf names the flag behind a field in messages, keeping an index:
// "Subtypes[1]" is "--subtype[1]". extra holds the flags of the command's
// own options; a field no flag sets keeps its name.
func flagOf(field string, extra map[string]string) string {
	name, suffix := field, ""
	if j := strings.IndexByte(name, '['); j >= 0 {
		name, suffix = name[:j], name[j:]
	}
	if fl, ok := fieldFlags[name]; ok {
		return fl + suffix
	}
	if fl, ok := extra[name]; ok {
		return fl + suffix
	}
	return field
}

// zoneFlag names a field by the lansd zone flag that sets it.
func zoneFlag(field string) string { return flagOf(field, zoneFieldFlags) }

// fieldLabel names a service field in a lansd announce message: by flag
// for the service given by flags (label ""), by JSON path for services[i]
// of a configuration file.
func fieldLabel(label string, index int, field string) string {
	if label != "" {
		return announce.ConfigPath(index, field)
	}
	return flagOf(field, nil)
}

// namedField returns a copy of the *sd.FieldError in err with its
// field renamed by name, or nil when err holds none.
func namedField(err error, name func(field string) string) *sd.FieldError {
	var fe *sd.FieldError
	if !errors.As(err, &fe) {
		return nil
	}
	cp := *fe
	cp.Field = name(fe.Field)
	return &cp
}

// printLines writes each line after prefix.
func printLines(w io.Writer, prefix string, lines []string) {
	for _, l := range lines {
		fmt.Fprintln(w, prefix+l)
	}
}

// printFindings writes each TXT finding on a line of its own after indent.
func printFindings(w io.Writer, indent string, findings []*txt.Error) {
	for _, f := range findings {
		fmt.Fprintln(w, indent+f.Error())
	}
}

// findingLines returns one line per problem with service i of lansd
// announce: field problems first, then every TXT finding (errors and
// warnings) in validate's form, with the configuration path after the
// severity for a service of a configuration file.
func findingLines(label string, i int, report txt.Report, err error) []string {
	var lines []string
	var ve *announce.ValidationError
	if errors.As(err, &ve) {
		for _, e := range flattenErr(ve.Err) {
			if fe := namedField(e, func(f string) string { return fieldLabel(label, i, f) }); fe != nil {
				e = fe
			}
			lines = append(lines, "error: "+e.Error())
		}
	} else if err != nil {
		lines = append(lines, "error: "+err.Error())
	}
	for _, f := range report.Findings {
		line := f.Error()
		if label != "" {
			// "error: services[1].txt: key ...": the path after the severity.
			sev := f.Severity.String() + ": "
			line = sev + announce.ConfigPath(i, "TXT") + ": " + strings.TrimPrefix(line, sev)
		}
		lines = append(lines, line)
	}
	return lines
}

// printRefused ends lansd announce's findings when refused of the
// services were refused.
func printRefused(w io.Writer, services []announce.Service, refused int) {
	if len(services) == 1 {
		fmt.Fprintf(w, "lansd announce: service %q refused; nothing was sent\n", services[0].Instance)
	} else {
		fmt.Fprintf(w, "lansd announce: %d of %d services refused; nothing was sent\n", refused, len(services))
	}
}

// printZoneFindings prints why lansd zone refused the service, one
// problem a line, naming flags rather than fields.
func printZoneFindings(w io.Writer, err error) {
	var ve *announce.ValidationError
	if !errors.As(err, &ve) {
		if fe := namedField(err, zoneFlag); fe != nil {
			err = fe
		}
		fmt.Fprintf(w, "lansd zone: %v\n", err)
		return
	}
	fmt.Fprintf(w, "lansd zone: service %q refused; nothing printed:\n", ve.Service)
	for _, e := range ve.Unwrap() {
		var te *txt.Error
		switch fe := namedField(e, zoneFlag); {
		case fe != nil:
			fmt.Fprintf(w, "  %v\n", fe)
		case errors.As(e, &te):
			fmt.Fprintf(w, "  --txt %v\n", te)
		default:
			fmt.Fprintf(w, "  %v\n", e)
		}
	}
}
