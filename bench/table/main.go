// Command table prints the results of lansd's side-by-side benchmarks
// (JSON lines written by the bench package to $BENCH_RESULTS) as one table
// per row, with median, min-max, n and the ratio lansd/peer, followed by
// the ns/op of `go test -bench` outputs given with -gobench.
//
//	go run ./bench/table -results results.jsonl -gobench registry.txt,txt.txt
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// result mirrors bench.Result.
type result struct {
	Row       string    `json:"row"`
	Metric    string    `json:"metric"`
	Pair      string    `json:"pair"`
	Unit      string    `json:"unit"`
	Values    []float64 `json:"values"`
	Tries     int       `json:"tries"`
	Note      string    `json:"note"`
	LansdPair string    `json:"lansd_pair"`
	PeerPair  string    `json:"peer_pair"`
}

func main() {
	resultsPath := flag.String("results", "", "JSON lines written by the benchmarks")
	gobench := flag.String("gobench", "", "comma-separated files holding `go test -bench` output")
	flag.Parse()
	if err := run(os.Stdout, *resultsPath, *gobench); err != nil {
		fmt.Fprintln(os.Stderr, "table:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, resultsPath, gobench string) error {
	var results []result
	if resultsPath != "" {
		f, err := os.Open(resultsPath)
		if err != nil {
			return fmt.Errorf("results: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for n := 1; sc.Scan(); n++ {
			var r result
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				return fmt.Errorf("%s line %d: %w", resultsPath, n, err)
			}
			results = append(results, r)
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("%s: %w", resultsPath, err)
		}
	}
	printResults(w, results)
	if gobench != "" {
		return printGoBench(w, strings.Split(gobench, ","))
	}
	return nil
}

func median(v []float64) (med, lo, hi float64) {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	med = s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1]
}

func num(f float64) string {
	switch {
	case f == 0:
		return "0"
	case f >= 100 || f <= -100:
		return strconv.FormatFloat(f, 'f', 0, 64)
	case f >= 10 || f <= -10:
		return strconv.FormatFloat(f, 'f', 1, 64)
	case f >= 0.01 || f <= -0.01:
		return strconv.FormatFloat(f, 'f', 2, 64)
	default:
		return strconv.FormatFloat(f, 'g', 2, 64)
	}
}

func printResults(w io.Writer, results []result) {
	type key struct{ row, metric, pair string }
	medians := map[key]float64{}
	byRow := map[string][]result{}
	var rows []string
	for _, r := range results {
		if _, ok := byRow[r.Row]; !ok {
			rows = append(rows, r.Row)
		}
		byRow[r.Row] = append(byRow[r.Row], r)
		if len(r.Values) > 0 {
			m, _, _ := median(r.Values)
			medians[key{r.Row, r.Metric, r.Pair}] = m
		}
	}
	slices.Sort(rows)
	for _, row := range rows {
		rs := byRow[row]
		fmt.Fprintf(w, "\nRow %s: %s (%s)\n", row, rs[0].Metric, rs[0].Unit)
		fmt.Fprintf(w, "  %-48s %10s %21s %5s %13s  %s\n", "pair", "median", "min-max", "n", "lansd/peer", "note")
		for _, r := range rs {
			med, mm, n := "-", "-", fmt.Sprintf("%d/%d", len(r.Values), r.Tries)
			if len(r.Values) > 0 {
				m, lo, hi := median(r.Values)
				med, mm = num(m), num(lo)+"-"+num(hi)
			}
			ratio := ""
			if r.LansdPair != "" && r.PeerPair != "" {
				l, okL := medians[key{r.Row, r.Metric, r.LansdPair}]
				p, okP := medians[key{r.Row, r.Metric, r.PeerPair}]
				switch {
				case okL && okP && p != 0:
					ratio = num(l/p) + "x"
				case okL && okP:
					ratio = "peer 0"
				default:
					ratio = "n/a"
				}
			}
			fmt.Fprintf(w, "  %-48s %10s %21s %5s %13s  %s\n", r.Pair, med, mm, n, ratio, r.Note)
		}
	}
}

var goBenchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+(\d+)\s+([\d.]+) ns/op(.*)$`)

// printGoBench prints row 6: the ns/op of every benchmark line, median and
// min-max over the -count repetitions.
func printGoBench(w io.Writer, files []string) error {
	vals := map[string][]float64{}
	var names []string
	var extra = map[string]string{}
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("gobench: %w", err)
		}
		pkg := ""
		for _, l := range strings.Split(string(b), "\n") {
			if p, ok := strings.CutPrefix(l, "pkg: "); ok {
				pkg = p[strings.LastIndex(p, "/")+1:]
			}
			m := goBenchLine.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			v, err := strconv.ParseFloat(m[4], 64)
			if err != nil {
				return fmt.Errorf("gobench %s: %q: %w", path, l, err)
			}
			name := pkg + "." + m[1]
			if _, ok := vals[name]; !ok {
				names = append(names, name)
			}
			vals[name] = append(vals[name], v)
			extra[name] = strings.Join(strings.Fields(m[5]), " ")
		}
	}
	if len(names) == 0 {
		return errors.New("gobench: no benchmark lines found")
	}
	fmt.Fprintf(w, "\nRow 6: go test -bench (ns/op): validator throughput, cache memory per instance\n")
	fmt.Fprintf(w, "  %-48s %14s %27s %5s  %s\n", "benchmark", "median", "min-max", "n", "other metrics (last run)")
	for _, n := range names {
		m, lo, hi := median(vals[n])
		fmt.Fprintf(w, "  %-48s %14s %27s %5d  %s\n", n, num(m), num(lo)+"-"+num(hi), len(vals[n]), extra[n])
	}
	return nil
}
