package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// metric is one figure of a scenario in the report.
type metric struct {
	name   string
	unit   string
	higher bool // higher is better (throughput)
	get    func(*Result) float64
}

// reportMetrics lists, per scenario, the figures compared (mixed
// repeats the idle and small scenarios' main ones).
func reportMetrics() map[string][]metric {
	idleRSS := metric{"idle RSS per connection", "KiB", false, func(r *Result) float64 { return r.IdleKiBPerConn }}
	msgCPU := metric{"CPU per message", "µs", false, func(r *Result) float64 { return r.CPUMicrosPerMsg }}
	msgRate := metric{"throughput", "msgs/s", true, func(r *Result) float64 { return r.MsgsPerSec }}
	p99 := metric{"latency p99", "ms", false, func(r *Result) float64 { return r.LatencyP99Ms }}
	return map[string][]metric{
		"idle": {
			idleRSS,
			{"idle CPU per connection-second", "µs", false, func(r *Result) float64 { return r.IdleCPUMicrosPerConnSec }},
		},
		"small": {
			msgCPU,
			msgRate,
			{"latency p50", "ms", false, func(r *Result) float64 { return r.LatencyP50Ms }},
			p99,
			{"latency p99.9", "ms", false, func(r *Result) float64 { return r.LatencyP999Ms }},
		},
		"setup": {
			{"CPU per connection", "ms", false, func(r *Result) float64 { return r.CPUMillisPerConn }},
			{"handshakes", "/s", true, func(r *Result) float64 { return r.HandshakesPerSec }},
			{"handshake p99", "ms", false, func(r *Result) float64 { return r.LatencyP99Ms }},
		},
		"bulk": {
			{"CPU per GB", "s", false, func(r *Result) float64 { return r.CPUSecPerGB }},
			{"throughput", "MB/s", true, func(r *Result) float64 { return r.MBPerSec }},
			p99,
		},
		"mixed": {idleRSS, msgCPU, msgRate, p99},
	}
}

func reportMain(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("load report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	baseline := fs.String("baseline", "wssproxy", "the target compared with the others")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("report: name the JSON-lines result files")
	}
	var results []Result
	for _, name := range fs.Args() {
		rs, err := readResults(name)
		if err != nil {
			return err
		}
		results = append(results, rs...)
	}
	return writeReport(stdout, results, *baseline)
}

func readResults(name string) ([]Result, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	defer f.Close()
	var out []Result
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		b := strings.TrimSpace(sc.Text())
		if b == "" || !strings.HasPrefix(b, "{") {
			continue
		}
		var r Result
		if err := json.Unmarshal([]byte(b), &r); err != nil {
			return nil, fmt.Errorf("report: %s:%d: %w", name, line, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("report: reading %s: %w", name, err)
	}
	return out, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// writeReport prints one markdown table: per scenario and figure, the
// median over rounds for each target, then baseline/peer for each peer and
// baseline/best peer (below 1 is better for costs and latencies, above 1
// for throughputs).
func writeReport(w io.Writer, results []Result, baseline string) error {
	var targets []string
	rounds := map[string]map[int]bool{}
	by := map[string]map[string][]*Result{} // scenario -> target -> runs
	for i := range results {
		r := &results[i]
		if r.Target == "" {
			return fmt.Errorf("report: a %s result has no target (run with --label)", r.Scenario)
		}
		if !slices.Contains(targets, r.Target) {
			targets = append(targets, r.Target)
		}
		if by[r.Scenario] == nil {
			by[r.Scenario] = map[string][]*Result{}
		}
		by[r.Scenario][r.Target] = append(by[r.Scenario][r.Target], r)
		if rounds[r.Target] == nil {
			rounds[r.Target] = map[int]bool{}
		}
		rounds[r.Target][r.Round] = true
	}
	// Baseline first, peers in the order they appear.
	if i := slices.Index(targets, baseline); i > 0 {
		targets = append(append([]string{baseline}, targets[:i]...), targets[i+1:]...)
	}
	peers := slices.DeleteFunc(slices.Clone(targets), func(t string) bool { return t == baseline })
	hasBase := slices.Contains(targets, baseline)

	head := []string{"scenario", "figure"}
	for _, t := range targets {
		head = append(head, fmt.Sprintf("%s (n=%d)", t, len(rounds[t])))
	}
	if hasBase {
		for _, p := range peers {
			head = append(head, baseline+"/"+p)
		}
		if len(peers) > 0 {
			head = append(head, baseline+"/best")
		}
	}
	fmt.Fprintf(w, "| %s |\n", strings.Join(head, " | "))
	seps := make([]string, len(head))
	for i := range seps {
		seps[i] = "---:"
	}
	seps[0], seps[1] = "---", "---"
	fmt.Fprintf(w, "| %s |\n", strings.Join(seps, " | "))
	metrics := reportMetrics()
	for _, sc := range scenarioNames {
		runs, ok := by[sc]
		if !ok {
			continue
		}
		for _, m := range metrics[sc] {
			med := map[string]float64{}
			have := map[string]bool{}
			for _, t := range targets {
				var xs []float64
				for _, r := range runs[t] {
					xs = append(xs, m.get(r))
				}
				if len(xs) > 0 {
					med[t], have[t] = median(xs), true
				}
			}
			row := []string{sc, m.name + " (" + m.unit + ")"}
			for _, t := range targets {
				if !have[t] {
					row = append(row, "-")
					continue
				}
				cell := formatFigure(med[t])
				if best(med, have, targets, m.higher) == t && len(targets) > 1 {
					cell = "**" + cell + "**"
				}
				row = append(row, cell)
			}
			if hasBase {
				b := med[baseline]
				for _, p := range peers {
					row = append(row, ratio(b, med[p], have[baseline] && have[p]))
				}
				if len(peers) > 0 {
					bp := best(med, have, peers, m.higher)
					row = append(row, ratio(b, med[bp], have[baseline] && bp != ""))
				}
			}
			fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
		}
	}
	return nil
}

// best returns the target with the best median among names.
func best(med map[string]float64, have map[string]bool, names []string, higher bool) string {
	bt := ""
	for _, t := range names {
		if !have[t] {
			continue
		}
		if bt == "" || (higher && med[t] > med[bt]) || (!higher && med[t] < med[bt]) {
			bt = t
		}
	}
	return bt
}

func ratio(a, b float64, ok bool) string {
	if !ok || b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func formatFigure(x float64) string {
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	case x >= 1:
		return fmt.Sprintf("%.2f", x)
	default:
		return fmt.Sprintf("%.3f", x)
	}
}
