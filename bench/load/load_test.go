package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wssproxy/wssproxy/certs"
	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/internal/testpeer/devpki"
	"github.com/wssproxy/wssproxy/proxy"
	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/tlsconf/psk"
	"github.com/wssproxy/wssproxy/ws"
	"github.com/wssproxy/wssproxy/ws/echo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startEcho serves the real echo server on loopback.
func startEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := echo.Start(ln, nil, nil)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx, ws.StatusGoingAway, "")
	})
	return "ws://" + ln.Addr().String() + "/"
}

// startCorruptEcho serves an echo that flips one bit of the last byte of
// every message: a broken upstream (or proxy) that still answers fast.
func startCorruptEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []*ws.Conn
		wg    sync.WaitGroup
	)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := ws.Accept(w, r, nil)
		if err != nil {
			return
		}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		wg.Go(func() {
			defer c.Abort()
			ctx := context.Background()
			for {
				typ, p, err := c.ReadMessage(ctx)
				if err != nil {
					return
				}
				if len(p) > 0 {
					p[len(p)-1] ^= 1
				}
				if err := c.WriteMessage(ctx, typ, p); err != nil {
					return
				}
			}
		})
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Abort()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "ws://" + ln.Addr().String() + "/"
}

// startProxy runs an in-process proxy.Server (wss, dev CA certificate)
// in front of upstream and returns its URL and the CA file.
func startProxy(t *testing.T, upstream string) (string, string) {
	return startProxyPSK(t, upstream, nil)
}

// startProxyPSK is startProxy whose listener also accepts PSK clients.
func startProxyPSK(t *testing.T, upstream string, pskCfg *psk.ServerConfig) (string, string) {
	t.Helper()
	dev := devpki.New(t)
	src, err := certs.NewFileSource(&certs.FileOptions{CertFile: dev.CertFile, KeyFile: dev.KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := tlsconf.ServerConfig(&tlsconf.ServerOptions{Base: certs.TLSConfig(src, &tls.Config{NextProtos: []string{"http/1.1"}})})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := proxy.New(&proxy.Options{Routes: []proxy.Route{{Upstream: upstream}}, TLS: tlsCfg, PSK: pskCfg})
	if err != nil {
		t.Fatal(err)
	}
	addr := testpeer.RunServer(t, 5*time.Second, srv.Serve, func(ctx context.Context) error {
		return srv.Shutdown(ctx, ws.StatusGoingAway, "")
	})
	return "wss://" + addr + "/", dev.CACertFile
}

// quickConfig is a run scaled to a fraction of a second, sampling this
// test process as the target (the in-process proxy lives here).
func quickConfig(url, ca string) config {
	return config{
		url: url, caFile: ca, pids: []int{os.Getpid()}, label: "test", round: 1,
		idleConns: 20, openConcurrency: 4, settle: 100 * time.Millisecond,
		smallConns: 4, smallSize: 128, setupConns: 2, bulkConns: 2, bulkSize: 64 << 10,
		duration: 300 * time.Millisecond, warmup: 50 * time.Millisecond,
	}
}

func runScenario(t *testing.T, cfg config, name string) (*Result, error) {
	t.Helper()
	r, err := newRunner(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return r.run(ctx, name)
}

// eachScenario runs every scenario, each as a subtest, through a proxy in
// front of upstream, and hands its outcome to check.
func eachScenario(t *testing.T, upstream string, check func(t *testing.T, cfg config, name string, res *Result, err error)) {
	url, ca := startProxy(t, upstream)
	cfg := quickConfig(url, ca)
	for _, name := range scenarioNames {
		t.Run(name, func(t *testing.T) {
			res, err := runScenario(t, cfg, name)
			check(t, cfg, name, res, err)
		})
	}
}

func TestScenariosThroughProxy(t *testing.T) {
	eachScenario(t, startEcho(t), func(t *testing.T, cfg config, name string, res *Result, err error) {
		if err != nil {
			t.Fatal(err)
		}
		if res.Scenario != name || res.Target != "test" || res.Round != 1 {
			t.Errorf("result names %q/%q/%d", res.Scenario, res.Target, res.Round)
		}
		if !strings.HasPrefix(res.TLS, "TLS 1.3 ") || !strings.HasSuffix(res.TLS, " X25519") {
			t.Errorf("TLS = %q, want TLS 1.3 with X25519", res.TLS)
		}
		if res.TargetProcs < 1 || res.CPUSeconds < 0 || res.Seconds <= 0 {
			t.Errorf("target sample: %d processes, %v s CPU over %v s", res.TargetProcs, res.CPUSeconds, res.Seconds)
		}
		switch name {
		case "idle", "mixed":
			if res.RSSBeforeKiB <= 0 || res.RSSOpenKiB <= 0 || res.Conns != cfg.idleConns || res.OpenPerSec <= 0 {
				t.Errorf("idle figures: RSS %d -> %d KiB, %d conns, %v/s", res.RSSBeforeKiB, res.RSSOpenKiB, res.Conns, res.OpenPerSec)
			}
		}
		switch name {
		case "small", "mixed", "bulk":
			size := cfg.smallSize
			if name == "bulk" {
				size = cfg.bulkSize
			}
			if res.Messages <= 0 || res.MsgsPerSec <= 0 || res.PayloadBytes != res.Messages*int64(size) {
				t.Errorf("%d messages, %v/s, %d payload bytes of %d each", res.Messages, res.MsgsPerSec, res.PayloadBytes, size)
			}
			checkLatency(t, res, int(res.Messages))
		case "setup":
			if res.Handshakes <= 0 || res.HandshakesPerSec <= 0 {
				t.Errorf("%d handshakes, %v/s", res.Handshakes, res.HandshakesPerSec)
			}
			checkLatency(t, res, int(res.Handshakes))
		}
	})
}

func checkLatency(t *testing.T, res *Result, n int) {
	t.Helper()
	if res.Samples != n {
		t.Errorf("%d latency samples for %d units", res.Samples, n)
	}
	if !(res.LatencyP50Ms > 0 && res.LatencyP50Ms <= res.LatencyP99Ms && res.LatencyP99Ms <= res.LatencyP999Ms && res.LatencyP999Ms <= res.LatencyMaxMs) {
		t.Errorf("latency p50 %v, p99 %v, p99.9 %v, max %v ms: not ordered", res.LatencyP50Ms, res.LatencyP99Ms, res.LatencyP999Ms, res.LatencyMaxMs)
	}
}

// The setup scenario dials with TLS 1.3 PSK (psk_dhe_ke) when given a
// key, on the listener that also serves certificate clients; a wrong key
// is an error.
func TestPSKSetup(t *testing.T) {
	key := bytes.Repeat([]byte{0x5a}, 32)
	srvCfg := &psk.ServerConfig{GetKey: func(_ context.Context, id []byte) ([]byte, error) {
		if string(id) == "bench" {
			return key, nil
		}
		return nil, nil
	}}
	url, ca := startProxyPSK(t, startEcho(t), srvCfg)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.hex")
	bad := filepath.Join(dir, "bad.hex")
	if err := os.WriteFile(good, []byte(strings.Repeat("5a", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(strings.Repeat("a5", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := quickConfig(url, "")
	cfg.pskID, cfg.pskKeyFile = "bench", good
	res, err := runScenario(t, cfg, "setup")
	if err != nil {
		t.Fatal(err)
	}
	if res.TLS != "PSK TLS 1.3 TLS_AES_128_GCM_SHA256 X25519 psk_dhe_ke" || res.Handshakes <= 0 {
		t.Errorf("PSK setup: TLS %q, %d handshakes", res.TLS, res.Handshakes)
	}
	// The same listener still serves certificate clients.
	if _, err := runScenario(t, quickConfig(url, ca), "setup"); err != nil {
		t.Errorf("certificate setup on the PSK listener: %v", err)
	}
	cfg.pskKeyFile = bad
	if res, err := runScenario(t, cfg, "setup"); err == nil {
		t.Errorf("a wrong PSK gave %+v", res)
	}
}

// A target whose echo differs from what was sent fails every scenario
// instead of reporting figures.
func TestCorruptEchoFails(t *testing.T) {
	eachScenario(t, startCorruptEcho(t), func(t *testing.T, _ config, _ string, res *Result, err error) {
		if !errors.Is(err, errCorrupt) {
			t.Fatalf("got %+v, %v; want an error wrapping errCorrupt", res, err)
		}
	})
}

// A target that is not there is an error, not a result.
func TestUnreachableTarget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "ws://" + ln.Addr().String() + "/"
	ln.Close()
	cfg := quickConfig(url, "")
	for _, name := range []string{"idle", "small", "setup"} {
		if res, err := runScenario(t, cfg, name); err == nil {
			t.Errorf("%s: got %+v, want an error", name, res)
		}
	}
}

func TestCheckEcho(t *testing.T) {
	want := []byte("0123456789abcdef")
	for _, tc := range []struct {
		name string
		typ  ws.MessageType
		got  []byte
	}{
		{"text", ws.MessageText, want},
		{"short", ws.MessageBinary, want[:15]},
		{"long", ws.MessageBinary, append(append([]byte(nil), want...), 'x')},
		{"changed", ws.MessageBinary, bytes.ToUpper(want)},
	} {
		if err := checkEcho(tc.typ, tc.got, want); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: %v, want errCorrupt", tc.name, err)
		}
	}
	if err := checkEcho(ws.MessageBinary, want, want); err != nil {
		t.Errorf("identical echo: %v", err)
	}
}

func TestPayloadsDiffer(t *testing.T) {
	a, b := newPayload(1, 32), newPayload(2, 32)
	m1 := append([]byte(nil), a.next()...)
	m2 := append([]byte(nil), a.next()...)
	if bytes.Equal(m1, m2) || bytes.Equal(m1, b.next()) {
		t.Error("two messages are equal: a replayed echo would pass")
	}
}

func TestParseStat(t *testing.T) {
	// A command name with spaces and a parenthesis, as proc(5) allows.
	line := []byte("4242 (we ird) name) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 123 456789 321 18446744073709551615\n")
	st, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if st.ppid != 17 || st.utime != 250 || st.stime != 75 {
		t.Errorf("got %+v, want ppid 17, utime 250, stime 75", st)
	}
	for _, bad := range []string{"", "12 (x S 1", "12 (x) S 1 2 3", "12 (x) S z 1 1 0 -1 0 0 0 0 0 1 1"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q): no error", bad)
		}
	}
	rss, err := parseRSS([]byte("Name:\tx\nVmPeak:\t 9 kB\nVmRSS:\t   1536 kB\n"))
	if err != nil || rss != 1536 {
		t.Errorf("parseRSS = %d, %v; want 1536", rss, err)
	}
	if _, err := parseRSS([]byte("VmRSS:\t1536 MB\n")); err == nil {
		t.Error("parseRSS accepted a unit other than kB")
	}
}

func TestSamplerThisProcess(t *testing.T) {
	s := &sampler{roots: []int{os.Getpid()}, proc: "/proc"}
	ps, err := s.sample()
	if err != nil {
		t.Fatal(err)
	}
	if ps.procs < 1 || ps.rssKiB <= 0 {
		t.Errorf("sample of this process: %+v", ps)
	}
	gone := &sampler{roots: []int{1 << 30}, proc: "/proc"}
	if _, err := gone.sample(); err == nil {
		t.Error("sampling a process that does not exist gave no error")
	}
}

func TestParseFlags(t *testing.T) {
	var out bytes.Buffer
	cfg, err := parseFlags([]string{"--url", "wss://h:1/", "--pid", "12,34", "--scenario", "all"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.pids) != 2 || cfg.pids[1] != 34 || len(cfg.scenarios) != len(scenarioNames) || cfg.idleConns != 9000 {
		t.Errorf("parsed %+v", cfg)
	}
	for _, args := range [][]string{
		{},
		{"--url", "ws://h/", "--pid", "x"},
		{"--url", "ws://h/", "--pid", "-3"},
		{"--url", "ws://h/", "--scenario", "nap"},
		{"--url", "ws://h/", "--conns", "0"},
		{"--url", "ws://h/", "--small-size", "8"},
		{"--url", "ws://h/", "--duration", "0s"},
		{"--url", "ws://h/", "extra"},
		{"--url", "wss://h/", "--psk-identity", "x"},
		{"--url", "wss://h/", "--psk-identity", "x", "--psk-key-file", "k", "--insecure"},
	} {
		if _, err := parseFlags(args, &out); err == nil {
			t.Errorf("parseFlags(%q): no error", args)
		}
	}
}

func TestReport(t *testing.T) {
	results := []Result{
		{Target: "wssproxy", Round: 1, Scenario: "idle", IdleKiBPerConn: 30},
		{Target: "wssproxy", Round: 2, Scenario: "idle", IdleKiBPerConn: 50},
		{Target: "wssproxy", Round: 3, Scenario: "idle", IdleKiBPerConn: 40},
		{Target: "haproxy", Round: 1, Scenario: "idle", IdleKiBPerConn: 20},
		{Target: "haproxy", Round: 2, Scenario: "idle", IdleKiBPerConn: 20},
		{Target: "nginx", Round: 1, Scenario: "idle", IdleKiBPerConn: 80},
		{Target: "haproxy", Round: 1, Scenario: "small", CPUMicrosPerMsg: 10, MsgsPerSec: 1000},
		{Target: "wssproxy", Round: 1, Scenario: "small", CPUMicrosPerMsg: 5, MsgsPerSec: 4000},
	}
	var out bytes.Buffer
	if err := writeReport(&out, results, "wssproxy"); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"| scenario | figure | wssproxy (n=3) | haproxy (n=2) | nginx (n=1) | wssproxy/haproxy | wssproxy/nginx | wssproxy/best |",
		"| idle | idle RSS per connection (KiB) | 40.0 | **20.0** | 80.0 | 2.00 | 0.50 | 2.00 |",
		"| small | CPU per message (µs) | **5.00** | 10.0 | - | 0.50 | - | 0.50 |",
		"| small | throughput (msgs/s) | **4000** | 1000 | - | 4.00 | - | 4.00 |",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	if err := writeReport(&out, []Result{{Scenario: "idle"}}, "wssproxy"); err == nil {
		t.Error("a result without a target was accepted")
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte("{\"scenario\": 3}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := reportMain([]string{bad}, &out, &out); err == nil {
		t.Error("a malformed result line was accepted")
	}
}
