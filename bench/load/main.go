// Command load measures a WebSocket proxy (or any ws/wss echo endpoint)
// under five scenarios and reports per-unit costs of the target process,
// sampled from /proc: the comparison harness of bench/compare.sh.
//
//	go run ./bench/load --url wss://127.0.0.1:8443/ --ca ca.pem --pid 1234 --scenario idle
//	go run ./bench/load report results.jsonl
//
// Scenarios (every message is binary and its echo is compared byte for
// byte with what was sent: a target that corrupts, drops or reorders data
// fails the run instead of looking fast):
//
//   - idle: --conns connections (default 9,000) opened and left idle;
//     reports (RSS with them open - RSS before) / conns in KiB, then
//     checks that every one still echoes.
//   - small: --small-conns connections (100) echoing --small-size bytes
//     (128), one message in flight each, for --duration; reports target
//     CPU µs per echoed message, messages/s and p50/p99/p99.9 latency.
//   - setup: --setup-conns goroutines (8) running connect (TCP, full TLS
//     handshake, upgrade, upstream dial), one 16-byte echo, close; reports
//     target CPU ms per connection and handshakes/s.
//   - bulk: --bulk-conns connections (4) echoing --bulk-size bytes (64
//     KiB); reports target CPU s per GB of payload sent (each byte
//     crosses the target twice) and MB/s.
//   - mixed: idle and small at once; reports both.
//
// --psk-identity and --psk-key-file dial with TLS 1.3 external PSK
// (psk_dhe_ke) instead of certificates, to compare the two handshakes on
// wssproxy's listener.
//
// --pid names the target process; its descendants count with it (nginx
// and HAProxy workers). Without --pid only client-side figures are
// reported. --json writes one JSON object per line (see Result).
//
// The report subcommand reads such lines (with target and round set by
// --label and --round) and prints, per scenario, the median of each
// figure per target and the ratios of --baseline to each peer and to the
// best peer.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wssproxy/wssproxy/tlsconf/psk"
)

// config holds the flags of one run.
type config struct {
	url        string
	caFile     string
	insecure   bool
	serverName string
	pskID      string
	pskKeyFile string
	pids       []int
	scenarios  []string
	label      string
	round      int
	jsonOut    bool

	idleConns       int
	openConcurrency int
	settle          time.Duration
	smallConns      int
	smallSize       int
	setupConns      int
	bulkConns       int
	bulkSize        int
	duration        time.Duration
	warmup          time.Duration
	profileURLs     []string
	profileDir      string
}

// runner runs scenarios against one target.
type runner struct {
	cfg      config
	cl       *client
	smp      *sampler
	progress io.Writer
}

func (r *runner) progressf(format string, args ...any) {
	if r.progress != nil {
		fmt.Fprintf(r.progress, format+"\n", args...)
	}
}

var scenarioNames = []string{"idle", "small", "setup", "bulk", "mixed"}

// run runs one scenario by name.
func (r *runner) run(ctx context.Context, name string) (*Result, error) {
	var (
		res *Result
		err error
	)
	switch name {
	case "idle":
		res, err = r.idle(ctx)
	case "small":
		res, err = r.small(ctx)
	case "setup":
		res, err = r.setup(ctx)
	case "bulk":
		res, err = r.bulk(ctx)
	case "mixed":
		res, err = r.mixed(ctx)
	default:
		return nil, fmt.Errorf("unknown scenario %q (want %s)", name, strings.Join(scenarioNames, ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", name, err)
	}
	res.Target, res.Round = r.cfg.label, r.cfg.round
	return res, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := mainErr(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func mainErr(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "report" {
		return reportMain(args[1:], stdout, stderr)
	}
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	r, err := newRunner(cfg, stderr)
	if err != nil {
		return err
	}
	for _, name := range cfg.scenarios {
		r.progressf("%s: %s against %s", cfg.label, name, cfg.url)
		res, err := r.run(ctx, name)
		if err != nil {
			return err
		}
		if cfg.jsonOut {
			b, err := json.Marshal(res)
			if err != nil {
				return fmt.Errorf("encoding the result: %w", err)
			}
			fmt.Fprintf(stdout, "%s\n", b)
		} else {
			writeText(stdout, res)
		}
	}
	return nil
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := config{}
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.url, "url", "", "ws:// or wss:// URL of the target (an echo endpoint, directly or through the proxy under test)")
	fs.StringVar(&cfg.caFile, "ca", "", "PEM file of the CA that signed the target's certificate (wss)")
	fs.BoolVar(&cfg.insecure, "insecure", false, "do not verify the target's certificate (wss)")
	fs.StringVar(&cfg.serverName, "server-name", "", "TLS server name (default: the URL's host)")
	fs.StringVar(&cfg.pskID, "psk-identity", "", "use TLS 1.3 external PSK (psk_dhe_ke, X25519) with this identity instead of certificates (wss)")
	fs.StringVar(&cfg.pskKeyFile, "psk-key-file", "", "file holding the PSK in hex (mode 0600), with --psk-identity")
	pids := fs.String("pid", "", "PID(s) of the target process, comma-separated; descendants are included (no PID: client-side figures only)")
	scen := fs.String("scenario", "idle", "scenario(s), comma-separated: "+strings.Join(scenarioNames, ", ")+", or all")
	fs.StringVar(&cfg.label, "label", "", "target name recorded in the results (e.g. wssproxy, nginx)")
	fs.IntVar(&cfg.round, "round", 0, "round number recorded in the results")
	fs.BoolVar(&cfg.jsonOut, "json", false, "print one JSON object per scenario instead of text")
	fs.IntVar(&cfg.idleConns, "conns", 9000, "idle connections (idle, mixed)")
	fs.IntVar(&cfg.openConcurrency, "open-concurrency", 32, "connections opened at once (idle, mixed)")
	fs.DurationVar(&cfg.settle, "settle", 4*time.Second, "wait after the idle connections are open before sampling memory")
	fs.IntVar(&cfg.smallConns, "small-conns", 100, "active connections (small, mixed)")
	fs.IntVar(&cfg.smallSize, "small-size", 128, "message size in bytes (small, mixed)")
	fs.IntVar(&cfg.setupConns, "setup-conns", 8, "concurrent connect/close loops (setup)")
	fs.IntVar(&cfg.bulkConns, "bulk-conns", 4, "connections (bulk)")
	fs.IntVar(&cfg.bulkSize, "bulk-size", 64<<10, "message size in bytes (bulk)")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured window (small, setup, bulk, mixed)")
	fs.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "load before the measured window")
	fs.Func("profile-url", "with the idle connections open, GET this URL (a pprof endpoint) and save the answer in --profile-dir (repeatable)", func(s string) error {
		cfg.profileURLs = append(cfg.profileURLs, s)
		return nil
	})
	fs.StringVar(&cfg.profileDir, "profile-dir", ".", "folder for --profile-url's answers, named after the URL's last path element (.txt with debug=, else .pprof)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.url == "" {
		return cfg, errors.New("--url is required")
	}
	for _, s := range strings.Split(*pids, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := strconv.Atoi(s)
		if err != nil || p <= 0 {
			return cfg, fmt.Errorf("--pid: %q is not a process id", s)
		}
		cfg.pids = append(cfg.pids, p)
	}
	if *scen == "all" {
		cfg.scenarios = scenarioNames
	} else {
		for _, s := range strings.Split(*scen, ",") {
			if s = strings.TrimSpace(s); s != "" {
				cfg.scenarios = append(cfg.scenarios, s)
			}
		}
	}
	for _, s := range cfg.scenarios {
		if !slices.Contains(scenarioNames, s) {
			return cfg, fmt.Errorf("unknown scenario %q (want %s or all)", s, strings.Join(scenarioNames, ", "))
		}
	}
	if cfg.idleConns < 1 || cfg.smallConns < 1 || cfg.setupConns < 1 || cfg.bulkConns < 1 || cfg.openConcurrency < 1 {
		return cfg, errors.New("connection counts must be at least 1")
	}
	if (cfg.pskID == "") != (cfg.pskKeyFile == "") {
		return cfg, errors.New("--psk-identity and --psk-key-file go together")
	}
	if cfg.pskID != "" && (cfg.caFile != "" || cfg.insecure) {
		return cfg, errors.New("--psk-identity excludes --ca and --insecure")
	}
	if cfg.smallSize < 16 || cfg.bulkSize < 16 {
		return cfg, errors.New("message sizes must be at least 16 bytes")
	}
	if cfg.duration <= 0 || cfg.warmup < 0 || cfg.settle < 0 {
		return cfg, errors.New("--duration must be positive, --warmup and --settle not negative")
	}
	return cfg, nil
}

// newRunner builds the client: TLS 1.3 only with X25519, so that every
// target negotiates the same key exchange (TLS_AES_128_GCM_SHA256 is Go's
// first choice on hardware with AES instructions); with a PSK, TLS 1.3
// psk_dhe_ke over X25519 instead of certificates.
func newRunner(cfg config, progress io.Writer) (*runner, error) {
	cl := &client{url: cfg.url}
	if strings.HasPrefix(strings.ToLower(cfg.url), "wss:") {
		t := &tls.Config{
			MinVersion:         tls.VersionTLS13,
			CurvePreferences:   []tls.CurveID{tls.X25519},
			ServerName:         cfg.serverName,
			InsecureSkipVerify: cfg.insecure, //nolint:gosec // --insecure, for self-signed targets
		}
		if cfg.caFile != "" {
			pem, err := os.ReadFile(cfg.caFile)
			if err != nil {
				return nil, fmt.Errorf("--ca: %w", err)
			}
			t.RootCAs = x509.NewCertPool()
			if !t.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--ca %s: no PEM certificate", cfg.caFile)
			}
		}
		cl.tls = t
		if cfg.pskID != "" {
			getKey, err := psk.ClientKeyFile([]byte(cfg.pskID), cfg.pskKeyFile)
			if err != nil {
				return nil, fmt.Errorf("--psk-key-file: %w", err)
			}
			pc := &psk.ClientConfig{GetKey: getKey, Groups: []psk.CurveID{psk.X25519}, NextProtos: []string{"http/1.1"}, ServerName: cfg.serverName}
			cl.tlsClient = pc.TLSClient
		}
	}
	return &runner{cfg: cfg, cl: cl, smp: &sampler{roots: cfg.pids, proc: "/proc"}, progress: progress}, nil
}

// profileFile names the file a profile URL is saved to: heap.pprof for
// .../heap, goroutine.txt for .../goroutine?debug=1.
func profileFile(dir, rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("--profile-url: %w", err)
	}
	base := path.Base(u.Path)
	if base == "." || base == "/" {
		base = "profile"
	}
	ext := ".pprof"
	if u.Query().Has("debug") {
		ext = ".txt"
	}
	return filepath.Join(dir, base+ext), nil
}

// fetchProfiles saves each profile URL's answer in dir.
func fetchProfiles(ctx context.Context, urls []string, dir string) ([]string, error) {
	var files []string
	for _, u := range urls {
		out, err := profileFile(dir, u)
		if err != nil {
			return files, err
		}
		if err := fetchProfile(ctx, u, out); err != nil {
			return files, err
		}
		files = append(files, out)
	}
	return files, nil
}

// fetchProfile saves the answer of a GET (a pprof endpoint) to a file.
func fetchProfile(ctx context.Context, url, out string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: %s answered %s", url, resp.Status)
	}
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	if _, err := io.Copy(f, io.LimitReader(resp.Body, 256<<20)); err != nil {
		f.Close()
		return fmt.Errorf("profile: %w", err)
	}
	return f.Close()
}

// writeText prints a result for people.
func writeText(w io.Writer, r *Result) {
	fmt.Fprintf(w, "%s", r.Scenario)
	if r.Target != "" {
		fmt.Fprintf(w, " [%s]", r.Target)
	}
	fmt.Fprintf(w, ": %d connections, TLS %s\n", r.Conns, r.TLS)
	if r.TargetProcs > 0 {
		fmt.Fprintf(w, "  target: %d process(es), CPU %.3f s over %.1f s", r.TargetProcs, r.CPUSeconds, r.Seconds)
		if r.RSSOpenKiB > 0 {
			fmt.Fprintf(w, ", RSS %d KiB before, %d KiB with the idle connections open", r.RSSBeforeKiB, r.RSSOpenKiB)
		}
		fmt.Fprintln(w)
	}
	switch r.Scenario {
	case "idle", "mixed":
		fmt.Fprintf(w, "  idle: %.1f KiB per connection, %.2f µs CPU per connection-second, opened at %.0f/s\n", r.IdleKiBPerConn, r.IdleCPUMicrosPerConnSec, r.OpenPerSec)
	}
	switch r.Scenario {
	case "small", "mixed":
		fmt.Fprintf(w, "  small: %d messages of %d B, %.0f msgs/s, %.2f µs CPU per message\n", r.Messages, r.MsgSize, r.MsgsPerSec, r.CPUMicrosPerMsg)
	case "bulk":
		fmt.Fprintf(w, "  bulk: %d messages of %d B, %.1f MB/s, %.3f CPU s per GB\n", r.Messages, r.MsgSize, r.MBPerSec, r.CPUSecPerGB)
	case "setup":
		fmt.Fprintf(w, "  setup: %d connections, %.0f handshakes/s, %.3f CPU ms per connection\n", r.Handshakes, r.HandshakesPerSec, r.CPUMillisPerConn)
	}
	if r.Samples > 0 {
		fmt.Fprintf(w, "  latency (ms): p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (%d samples)\n", r.LatencyP50Ms, r.LatencyP99Ms, r.LatencyP999Ms, r.LatencyMaxMs, r.Samples)
	}
}
