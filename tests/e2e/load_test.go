package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/ws"
)

// Load through the real binaries (heavy: WSSPROXY_HEAVY=1, run without
// -race by scripts/test.sh). Figures are reported with t.Logf; the
// assertions are about correctness (no loss, no corruption, clean closes,
// resources back near their baseline), never about speed.

var (
	heavyBinOnce sync.Once
	heavyBin     string
	heavyBinErr  error
)

// heavyBinary skips unless WSSPROXY_HEAVY=1 and returns a wssproxy binary
// built without -race (the one shipped, whose memory and speed mean
// something): the package's own, or one built once when the tests run
// with -race.
func heavyBinary(t *testing.T) string {
	t.Helper()
	if os.Getenv("WSSPROXY_HEAVY") != "1" {
		t.Skip("heavy test: set WSSPROXY_HEAVY=1")
	}
	if !raceEnabled {
		return env.bin
	}
	heavyBinOnce.Do(func() {
		heavyBin = filepath.Join(filepath.Dir(env.bin), "wssproxy-norace")
		heavyBinErr = buildBinary(heavyBin, false)
	})
	if heavyBinErr != nil {
		t.Fatal(heavyBinErr)
	}
	return heavyBin
}

// startEchoBin runs "bin echo" on a free port and returns its URL.
func startEchoBin(t *testing.T, bin string) (string, *proc) {
	t.Helper()
	p := startProc(t, "wssproxy echo", exec.Command(bin, "echo", "--listen", "127.0.0.1:0", "--log-format", "json", "--log-level", "warn"))
	return p.waitLine(t, "its URL", func(l string) bool { return strings.HasPrefix(l, "ws://") }), p
}

// procFDs counts the open file descriptors of a process.
func procFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// checkedMessage is a load message: connection id, sequence number,
// random bytes, then the SHA-256 of all that, so that corruption is seen
// even if the echo were to return another connection's message.
func checkedMessage(conn, seq uint64, size int) []byte {
	b := make([]byte, 16+size+sha256.Size)
	binary.BigEndian.PutUint64(b, conn)
	binary.BigEndian.PutUint64(b[8:], seq)
	_, _ = rand.Read(b[16 : 16+size])
	sum := sha256.Sum256(b[:16+size])
	copy(b[16+size:], sum[:])
	return b
}

// verifyEcho checks that got is sent, intact.
func verifyEcho(sent, got []byte) error {
	n := len(got) - sha256.Size
	if n < 16 {
		return fmt.Errorf("%d bytes", len(got))
	}
	if sum := sha256.Sum256(got[:n]); !bytes.Equal(sum[:], got[n:]) {
		return errors.New("checksum mismatch")
	}
	if !bytes.Equal(got, sent) {
		return fmt.Errorf("message of conn %d seq %d came back as conn %d seq %d",
			binary.BigEndian.Uint64(sent), binary.BigEndian.Uint64(sent[8:]), binary.BigEndian.Uint64(got), binary.BigEndian.Uint64(got[8:]))
	}
	return nil
}

// roundTrip sends a checked message and verifies its echo.
func roundTrip(ctx context.Context, c *ws.Conn, id, seq uint64, size int) error {
	msg := checkedMessage(id, seq, size)
	if err := c.WriteMessage(ctx, ws.MessageBinary, msg); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	_, got, err := c.ReadMessage(ctx)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	return verifyEcho(msg, got)
}

// 10,000 concurrent wss connections through the proxy, each exchanging
// checksummed messages for a bounded time, then closed with 1000.
//
// Layout: the machine allows 20,000 open files per process (a hard limit),
// and a proxied connection holds 2 descriptors in the proxy (client and
// upstream socket): one serve process could not hold 10,000 (plus its
// listener and logs). So two serve processes hold 5,000 each, the echo
// upstream is its own process ("wssproxy echo", 10,000 sockets), and the
// clients live in the test process (10,000 sockets).
func TestHeavyTenThousandConnections(t *testing.T) {
	bin := heavyBinary(t)
	const (
		proxies  = 2
		perProxy = 5000
		total    = proxies * perProxy
		exchange = 20 * time.Second // how long the connections exchange messages
		every    = 2 * time.Second  // each connection's pace, jittered
		size     = 200              // random bytes per message
	)
	echoURL, echo := startEchoBin(t, bin)
	var pxs []*serveProc
	var baseFDs []int
	var baseRSS []int64
	for range proxies {
		px := startServeBin(t, bin, append(devCert(), "--upstream", echoURL+"/", "--log-level", "warn")...)
		pxs = append(pxs, px)
		baseFDs = append(baseFDs, procFDs(t, px.cmd.Process.Pid))
		baseRSS = append(baseRSS, procStatus(t, px.cmd.Process.Pid, "VmRSS"))
	}
	roots := devRoots(t)

	// Connect, 200 at a time.
	conns := make([]*ws.Conn, total)
	var dialErrs atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 200)
	for i := range total {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			px := pxs[i%proxies]
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c, _, err := ws.Dial(ctx, px.url+"load", &ws.DialOptions{TLSConfig: roots})
			if err != nil {
				dialErrs.Add(1)
				firstErr.CompareAndSwap(nil, err)
				return
			}
			conns[i] = c
		})
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Abort()
			}
		}
	}()
	connected := time.Since(start)
	if n := dialErrs.Load(); n > 0 {
		t.Fatalf("%d of %d connections failed; first: %v", n, total, firstErr.Load())
	}
	var heldRSS []int64
	for i, px := range pxs {
		pid := px.cmd.Process.Pid
		fds, rss := procFDs(t, pid), procStatus(t, pid, "VmRSS")
		heldRSS = append(heldRSS, rss)
		t.Logf("proxy %d: %d fds (baseline %d), VmRSS %.1f MiB (baseline %.1f): %.1f KiB per proxied wss connection",
			i, fds, baseFDs[i], float64(rss)/(1<<20), float64(baseRSS[i])/(1<<20), float64(rss-baseRSS[i])/1024/perProxy)
		if fds < baseFDs[i]+2*perProxy {
			t.Errorf("proxy %d holds %d fds, want at least %d (2 per connection)", i, fds, baseFDs[i]+2*perProxy)
		}
	}
	t.Logf("%d wss connections open through %d proxies in %v; echo holds %d fds", total, proxies, connected.Round(time.Millisecond), procFDs(t, echo.cmd.Process.Pid))

	// Exchange: each connection sends a checked message about every 2s
	// (first one at a random offset) until the window ends.
	var sent, lost, corrupt atomic.Int64
	var firstFail atomic.Value
	end := time.Now().Add(exchange)
	for i, c := range conns {
		wg.Go(func() {
			time.Sleep(time.Duration(mrand.Int64N(int64(every))))
			for seq := uint64(0); time.Now().Before(end); seq++ {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := roundTrip(ctx, c, uint64(i), seq, size)
				cancel()
				sent.Add(1)
				if err != nil {
					if strings.HasPrefix(err.Error(), "write") || strings.HasPrefix(err.Error(), "read") {
						lost.Add(1)
					} else {
						corrupt.Add(1)
					}
					firstFail.CompareAndSwap(nil, fmt.Errorf("conn %d seq %d: %w", i, seq, err))
					return
				}
				time.Sleep(every/2 + time.Duration(mrand.Int64N(int64(every))))
			}
		})
	}
	wg.Wait()
	t.Logf("%d checked messages echoed in %v (%.0f round trips/s); lost %d, corrupt %d", sent.Load(), exchange,
		float64(sent.Load())/exchange.Seconds(), lost.Load(), corrupt.Load())
	if lost.Load() > 0 || corrupt.Load() > 0 {
		t.Errorf("lost %d, corrupt %d; first: %v", lost.Load(), corrupt.Load(), firstFail.Load())
	}
	if min := int64(total) * int64(exchange/(every*3/2)) / 2; sent.Load() < min {
		t.Errorf("only %d messages exchanged, want at least %d", sent.Load(), min)
	}

	// Close every connection with 1000, answered with 1000 end to end.
	var unclean atomic.Int64
	var firstUnclean atomic.Value
	start = time.Now()
	for _, c := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			err := c.Close(ws.StatusNormalClosure, "load done")
			if code, reason := c.CloseStatus(); err != nil || code != ws.StatusNormalClosure {
				unclean.Add(1)
				firstUnclean.CompareAndSwap(nil, fmt.Sprintf("%d %q %v", code, reason, err))
			}
		})
	}
	wg.Wait()
	t.Logf("closed %d connections in %v, %d not cleanly", total, time.Since(start).Round(time.Millisecond), unclean.Load())
	if unclean.Load() > 0 {
		t.Errorf("%d connections did not close with 1000; first: %s", unclean.Load(), firstUnclean.Load())
	}
	// The proxies let go of every socket.
	for i, px := range pxs {
		pid := px.cmd.Process.Pid
		fds := waitFDs(t, pid, baseFDs[i]+4)
		t.Logf("proxy %d after the closes: %d fds (baseline %d), VmRSS %.1f MiB (held %.1f)", i, fds, baseFDs[i],
			float64(procStatus(t, pid, "VmRSS"))/(1<<20), float64(heldRSS[i])/(1<<20))
	}
}

// waitFDs waits up to 30s for the process to hold at most limit fds and
// returns the count; more after that fails the test.
func waitFDs(t *testing.T, pid, limit int) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := procFDs(t, pid)
		if n <= limit {
			return n
		}
		if time.Now().After(deadline) {
			t.Errorf("process %d still holds %d fds, want at most %d", pid, n, limit)
			return n
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// resources is what a serve process holds at one moment.
type resources struct {
	fds, threads int
	rss          int64
	open         float64 // wssproxy_connections_open
}

func measure(t *testing.T, px *serveProc, adminURL, token string) resources {
	t.Helper()
	pid := px.cmd.Process.Pid
	r := resources{fds: procFDs(t, pid), rss: procStatus(t, pid, "VmRSS"), threads: int(procField(t, pid, "Threads"))}
	r.open, _ = metricSum(t, adminURL, token, "wssproxy_connections_open")
	return r
}

func (r resources) String() string {
	return fmt.Sprintf("%d fds, %d threads, VmRSS %.1f MiB, connections open %v", r.fds, r.threads, float64(r.rss)/(1<<20), r.open)
}

// goroutinesAtExit ends a serve process started with GOTRACEBACK=all by
// SIGQUIT, which makes the Go runtime print every goroutine's stack, and
// returns how many there were (goroutine 0, the signal handler, aside)
// and the dump. (serve exposes no goroutine count of its own.)
func goroutinesAtExit(t *testing.T, px *serveProc) (int, string) {
	t.Helper()
	if err := px.cmd.Process.Signal(syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	px.wait(t, waitTimeout)
	dump := px.stderr.String()
	n := len(goroutineHeader.FindAllStringIndex(dump, -1))
	if n == 0 {
		t.Fatalf("no goroutine dump after SIGQUIT:\n%s", dump)
	}
	return n, dump
}

var goroutineHeader = regexp.MustCompile(`(?m)^goroutine [1-9][0-9]* .*\[`)

// 100,000 connect/echo/close cycles (50 workers) through one serve
// process: every cycle echoes a checked message and closes with 1000, and
// afterwards the proxy's goroutines, fds and RSS are back near their
// baseline (taken after a warm-up of 1,000 cycles).
//
// The client leg is plain ws: the cycles exercise the relay's set-up and
// tear-down, and 100,000 TLS handshakes would take minutes of the 2 shared
// cores (TLS is under load in TestHeavyTenThousandConnections).
func TestHeavyHundredThousandCycles(t *testing.T) {
	bin := heavyBinary(t)
	const (
		cycles  = 100_000
		warmup  = 1_000
		workers = 50
		// Tolerances on "back near the baseline".
		fdSlack        = 8
		goroutineSlack = 20
		rssSlack       = 32 << 20
	)
	echoURL, _ := startEchoBin(t, bin)
	aflags, token := adminFlags(t)
	// The goroutine count is read from the runtime's dump at SIGQUIT, once
	// per process: ref, warmed up like px, gives the baseline.
	t.Setenv("GOTRACEBACK", "all")
	flags := append(append([]string{"--upstream", echoURL + "/"}, aflags...), "--log-level", "warn")
	px := startServeBin(t, bin, flags...)
	admin := px.adminURL(t)
	ref := startServeBin(t, bin, flags...)

	run := func(url string, n int) (failed int64, took time.Duration, first error) {
		var next atomic.Int64
		var fails atomic.Int64
		var firstErr atomic.Value
		start := time.Now()
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for {
					i := next.Add(1) - 1
					if i >= int64(n) {
						return
					}
					if err := cycle(url, uint64(i)); err != nil {
						fails.Add(1)
						firstErr.CompareAndSwap(nil, fmt.Errorf("cycle %d: %w", i, err))
					}
				}
			})
		}
		wg.Wait()
		if e := firstErr.Load(); e != nil {
			first = e.(error)
		}
		return fails.Load(), time.Since(start), first
	}
	settle := func() resources {
		deadline := time.Now().Add(30 * time.Second)
		for {
			r := measure(t, px, admin, token)
			if r.open == 0 || time.Now().After(deadline) {
				return r
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	for _, p := range []*serveProc{ref, px} {
		if failed, _, first := run(p.url, warmup); failed > 0 {
			t.Fatalf("warm-up: %d of %d cycles failed; first: %v", failed, warmup, first)
		}
	}
	base := settle()
	t.Logf("baseline after %d warm-up cycles: %v", warmup, base)
	failed, took, first := run(px.url, cycles)
	t.Logf("%d connect/echo/close cycles with %d workers in %v (%.0f cycles/s), %d failed", cycles, workers,
		took.Round(time.Millisecond), float64(cycles)/took.Seconds(), failed)
	if failed > 0 {
		t.Errorf("%d of %d cycles failed; first: %v", failed, cycles, first)
	}
	after := settle()
	// Sockets may linger a moment after the last close: wait for them.
	deadline := time.Now().Add(30 * time.Second)
	for after.fds > base.fds+fdSlack && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		after = measure(t, px, admin, token)
	}
	t.Logf("after: %v", after)
	if after.open != 0 {
		t.Errorf("%v connections still open after every client closed", after.open)
	}
	if after.fds > base.fds+fdSlack {
		t.Errorf("fds %d after the cycles, baseline %d (tolerance %d): descriptors leak", after.fds, base.fds, fdSlack)
	}
	if after.rss > base.rss+rssSlack {
		t.Errorf("VmRSS %.1f MiB after the cycles, baseline %.1f MiB (tolerance %d MiB)", float64(after.rss)/(1<<20), float64(base.rss)/(1<<20), rssSlack>>20)
	}
	refG, _ := goroutinesAtExit(t, ref)
	gotG, dump := goroutinesAtExit(t, px)
	t.Logf("goroutines: %d after the cycles, %d in a proxy after the warm-up alone", gotG, refG)
	if gotG > refG+goroutineSlack {
		t.Errorf("%d goroutines after the cycles, %d after the warm-up (tolerance %d): goroutines leak; dump:\n%s", gotG, refG, goroutineSlack, dump)
	}
}

// cycle connects to url, echoes one checked message and closes with 1000.
func cycle(url string, i uint64) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := ws.Dial(ctx, url, nil)
	if err != nil {
		return err
	}
	defer c.Abort()
	if err := roundTrip(ctx, c, i, 0, 64); err != nil {
		return err
	}
	if err := c.Close(ws.StatusNormalClosure, ""); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	if code, reason := c.CloseStatus(); code != ws.StatusNormalClosure {
		return fmt.Errorf("closed with %d %q", code, reason)
	}
	return nil
}
