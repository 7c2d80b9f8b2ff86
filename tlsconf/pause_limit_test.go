package tlsconf

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// countingPauseClient is a pause-mode client whose OnPause only counts,
// so that any number of pauses never blocks it.
func countingPauseClient(t *testing.T, reg *Registry, maxPending int, serverName string) (*Client, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	c := mustClient(t, &ClientOptions{ServerName: serverName, Policy: Policy{
		Pause: PauseOnSSLErrors, Registry: reg, PauseTimeout: time.Minute, MaxPending: maxPending,
		OnPause: func(PausedHandshake) { n.Add(1) },
	}})
	return c, &n
}

// handshakeAsync dials addr and runs c's handshake verifying name.
func handshakeAsync(ctx context.Context, c *Client, addr, name string) <-chan dialResult {
	ch := make(chan dialResult, 1)
	go func() {
		var d net.Dialer
		nc, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			ch <- dialResult{nil, err}
			return
		}
		conn, err := c.Handshake(ctx, nc, name)
		ch <- dialResult{conn, err}
	}()
	return ch
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testpeer.WaitFor(t, d, what, cond)
}

// TestPauseSameCertificateOneDecision: 100 concurrent handshakes meeting
// the same certificate wait on one decision, listed once with its count;
// resuming it (remembering the pin) releases them all.
func TestPauseSameCertificateOneDecision(t *testing.T) {
	t.Parallel()
	leaf := newCert(t, leafSpec("localhost"), nil)
	s := serveChain(t, leaf)
	const n = 100
	reg := NewRegistryWithOptions(&RegistryOptions{MaxWaiters: n})
	c, opened := countingPauseClient(t, reg, 0, "localhost")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	results := make([]<-chan dialResult, n)
	for i := range results {
		results[i] = dialAsync(ctx, c, s.addr())
	}
	waitFor(t, 20*time.Second, "100 handshakes waiting on one decision", func() bool {
		l := reg.List()
		if len(l) > 1 {
			t.Fatalf("registry lists %d decisions for one certificate, want 1", len(l))
		}
		return len(l) == 1 && l[0].Waiters == n
	})
	if got := opened.Load(); got != 1 {
		t.Fatalf("OnPause called %d times, want once", got)
	}
	if d, h := reg.Pending(); d != 1 || h != n {
		t.Fatalf("Pending() = %d decisions, %d handshakes; want 1, %d", d, h, n)
	}
	// One waiter more than RegistryOptions.MaxWaiters is refused at once.
	rctx, rcancel := context.WithTimeout(ctx, 15*time.Second)
	if r := <-dialAsync(rctx, c, s.addr()); !errors.Is(r.err, ErrTooManyPending) || !strings.Contains(r.err.Error(), "wait on this decision") {
		t.Fatalf("waiter %d: %v, want ErrTooManyPending", n+1, r.err)
	}
	rcancel()
	p := reg.List()[0]
	if err := reg.Resume(p.ID, nil, true); err != nil {
		t.Fatal(err)
	}
	for i, ch := range results {
		r := <-ch
		if r.err != nil {
			t.Fatalf("handshake %d after resume: %v", i, r.err)
		}
		_ = r.conn.Close()
	}
	if d, h := reg.Pending(); d != 0 || h != 0 {
		t.Fatalf("after resume: %d decisions, %d handshakes pending", d, h)
	}
	// Remembered as a pin: the next handshake passes without a pause.
	conn, err := dial(t, c, s)
	if err != nil {
		t.Fatalf("remembered key refused: %v", err)
	}
	_ = conn.Close()
	if got := opened.Load(); got != 1 {
		t.Fatalf("paused again after remember-as-pin (%d pauses)", got)
	}
}

// TestPauseAbortReleasesAllWaiters: aborting a shared decision fails every
// handshake waiting on it.
func TestPauseAbortReleasesAllWaiters(t *testing.T) {
	t.Parallel()
	s := serveChain(t, newCert(t, leafSpec("localhost"), nil))
	reg := NewRegistry()
	c, _ := countingPauseClient(t, reg, 0, "localhost")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	results := []<-chan dialResult{dialAsync(ctx, c, s.addr()), dialAsync(ctx, c, s.addr()), dialAsync(ctx, c, s.addr())}
	waitFor(t, 10*time.Second, "3 waiters", func() bool { _, h := reg.Pending(); return h == 3 })
	if err := reg.Abort(reg.List()[0].ID); err != nil {
		t.Fatal(err)
	}
	for _, ch := range results {
		if r := <-ch; !errors.Is(r.err, ErrPauseAborted) {
			t.Fatalf("err = %v, want ErrPauseAborted", r.err)
		}
	}
	if len(reg.List()) != 0 {
		t.Fatal("registry not empty after abort")
	}
}

// TestPauseWaiterLeavesAtOnce: a handshake whose context ends stops
// waiting at once; the decision stays for the others and is dropped with
// its last waiter, long before the pause timeout.
func TestPauseWaiterLeavesAtOnce(t *testing.T) {
	t.Parallel()
	s := serveChain(t, newCert(t, leafSpec("localhost"), nil))
	reg := NewRegistry()
	c, _ := countingPauseClient(t, reg, 0, "localhost")
	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	r1 := dialAsync(ctx1, c, s.addr())
	r2 := dialAsync(ctx2, c, s.addr())
	waitFor(t, 10*time.Second, "2 waiters", func() bool { _, h := reg.Pending(); return h == 2 })
	id := reg.List()[0].ID

	cancel1()
	if r := <-r1; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", r.err)
	}
	if p, ok := reg.Get(id); !ok || p.Waiters != 1 {
		t.Fatalf("after one waiter left: %+v (listed %v), want the decision with 1 waiter", p, ok)
	}
	cancel2()
	if r := <-r2; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", r.err)
	}
	if _, ok := reg.Get(id); ok {
		t.Fatal("decision still listed after its last waiter left")
	}
	if d, h := reg.Pending(); d != 0 || h != 0 {
		t.Fatalf("Pending() = %d, %d after every waiter left", d, h)
	}
}

// TestPauseLimits: beyond its policy's share or the registry's limit, a
// handshake that would open a decision fails at once with
// ErrTooManyPending; joining a pending decision is still allowed, and one
// policy's share does not limit another's.
func TestPauseLimits(t *testing.T) {
	t.Parallel()
	s := serveChain(t, newCert(t, leafSpec("localhost"), nil))
	reg := NewRegistryWithOptions(&RegistryOptions{MaxPending: 3})
	a, _ := countingPauseClient(t, reg, 2, "")
	b, _ := countingPauseClient(t, reg, 2, "")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Each server name is a distinct decision.
	var waiting []<-chan dialResult
	waiting = append(waiting, handshakeAsync(ctx, a, s.addr(), "a1.example"), handshakeAsync(ctx, a, s.addr(), "a2.example"))
	waitFor(t, 10*time.Second, "route a's 2 decisions", func() bool { d, _ := reg.Pending(); return d == 2 })

	refused := func(c *Client, name, want string) {
		t.Helper()
		// Refusal is immediate: a context far shorter than the pause timeout
		// (a minute) tells it from a pause, with room for a loaded machine.
		rctx, rcancel := context.WithTimeout(ctx, 15*time.Second)
		defer rcancel()
		r := <-handshakeAsync(rctx, c, s.addr(), name)
		if !errors.Is(r.err, ErrTooManyPending) {
			t.Fatalf("%s: err = %v, want ErrTooManyPending", name, r.err)
		}
		verificationError(t, r.err)
		if want != "" && !strings.Contains(r.err.Error(), want) {
			t.Fatalf("%s: %v does not say %q", name, r.err, want)
		}
	}
	refused(a, "a3.example", "this policy")

	// Joining route a's own pending decision is fine.
	waiting = append(waiting, handshakeAsync(ctx, a, s.addr(), "a1.example"))
	waitFor(t, 10*time.Second, "a joiner", func() bool { _, h := reg.Pending(); return h == 3 })

	// Route b has its own share: one more decision, up to the registry's 3.
	waiting = append(waiting, handshakeAsync(ctx, b, s.addr(), "b1.example"))
	waitFor(t, 10*time.Second, "route b's decision", func() bool { d, _ := reg.Pending(); return d == 3 })
	refused(b, "b2.example", "the registry")

	if d, h := reg.Pending(); d != 3 || h != 4 {
		t.Fatalf("Pending() = %d, %d; want 3 decisions, 4 handshakes", d, h)
	}
	for _, p := range reg.List() {
		if err := reg.Abort(p.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range waiting {
		if r := <-ch; !errors.Is(r.err, ErrPauseAborted) {
			t.Fatalf("err = %v, want ErrPauseAborted", r.err)
		}
	}
	// Every share is back: route a may pause twice again.
	waiting = []<-chan dialResult{handshakeAsync(ctx, a, s.addr(), "a3.example"), handshakeAsync(ctx, a, s.addr(), "a4.example")}
	waitFor(t, 10*time.Second, "route a's 2 new decisions", func() bool { d, _ := reg.Pending(); return d == 2 })
	for _, p := range reg.List() {
		_ = reg.Abort(p.ID)
	}
	for _, ch := range waiting {
		<-ch
	}
}

// TestPauseDistinctErrorsDistinctDecisions: handshakes with the same
// server name and leaf but different unaccepted errors (policies that
// ignore different kinds) never share a decision, so resuming one never
// accepts errors its entry did not show.
func TestPauseDistinctErrorsDistinctDecisions(t *testing.T) {
	t.Parallel()
	s := serveChain(t, newCert(t, leafSpec("localhost"), nil))
	reg := NewRegistry()
	strict, _ := countingPauseClient(t, reg, 0, "")
	lax := mustClient(t, &ClientOptions{Policy: Policy{
		Pause: PauseOnSSLErrors, Registry: reg, PauseTimeout: time.Minute,
		Ignore: IgnorePolicy{Mode: IgnoreListed, Expected: []ExpectedError{{Kind: HostnameMismatch}}},
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r1 := handshakeAsync(ctx, strict, s.addr(), "other.example")
	r2 := handshakeAsync(ctx, lax, s.addr(), "other.example")
	waitFor(t, 10*time.Second, "2 decisions", func() bool { d, _ := reg.Pending(); return d == 2 })
	for _, p := range reg.List() {
		if p.Waiters != 1 {
			t.Fatalf("%+v: want 1 waiter", p)
		}
		if err := reg.Resume(p.ID, nil, false); err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range []<-chan dialResult{r1, r2} {
		r := <-ch
		if r.err != nil {
			t.Fatalf("resumed: %v", r.err)
		}
		_ = r.conn.Close()
	}
}
