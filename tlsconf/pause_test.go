package tlsconf

import (
	"context"
	"crypto/tls"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// pauseClient returns a client in pause mode whose paused handshakes are
// announced on the returned channel.
func pauseClient(t *testing.T, reg *Registry, timeout time.Duration) (*Client, <-chan PausedHandshake) {
	t.Helper()
	paused := make(chan PausedHandshake, 4)
	c := mustClient(t, &ClientOptions{ServerName: "localhost", Policy: Policy{
		Pause: PauseOnSSLErrors, Registry: reg, PauseTimeout: timeout,
		OnPause: func(p PausedHandshake) { paused <- p },
	}})
	return c, paused
}

// pauseCase is a server with a new self-signed leaf and a client that
// pauses on its errors, with the client's registry and a context bounding
// the case's dials at 20 s.
type pauseCase struct {
	leaf   *testCert
	s      *server
	reg    *Registry
	c      *Client
	paused <-chan PausedHandshake
	ctx    context.Context
}

// newPauseCase serves a new leaf for name to a client pausing (for
// timeout) in reg, a new Registry when nil.
func newPauseCase(t *testing.T, reg *Registry, name string, timeout time.Duration) *pauseCase {
	t.Helper()
	leaf := newCert(t, leafSpec(name), nil)
	if reg == nil {
		reg = NewRegistry()
	}
	c, paused := pauseClient(t, reg, timeout)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return &pauseCase{leaf: leaf, s: serveChain(t, leaf), reg: reg, c: c, paused: paused, ctx: ctx}
}

// dial starts a handshake to the case's server and waits for its pause.
func (pc *pauseCase) dial() (<-chan dialResult, PausedHandshake) {
	res := dialAsync(pc.ctx, pc.c, pc.s.addr())
	return res, <-pc.paused
}

type dialResult struct {
	conn *tls.Conn
	err  error
}

func dialAsync(ctx context.Context, c *Client, addr string) <-chan dialResult {
	ch := make(chan dialResult, 1)
	go func() {
		conn, err := c.DialContext(ctx, "tcp", addr)
		ch <- dialResult{conn, err}
	}()
	return ch
}

func TestPauseResume(t *testing.T) {
	t.Parallel()
	pc := newPauseCase(t, nil, "localhost", time.Minute)
	leaf, s, reg := pc.leaf, pc.s, pc.reg
	res, p := pc.dial()
	list := reg.List()
	if len(list) != 1 || list[0].ID != p.ID {
		t.Fatalf("registry lists %v, want the paused handshake %s", list, p.ID)
	}
	got, ok := reg.Get(p.ID)
	if !ok || got.ServerName != "localhost" || got.Peer != s.addr() || len(got.Chain) != 1 ||
		got.Chain[0].Fingerprint != Fingerprint(leaf.cert) || got.Chain[0].SPKIPin != SPKIPin(leaf.cert) ||
		!slices.Equal(kindsOf(got.Errors), []ErrorKind{SelfSigned}) {
		t.Fatalf("paused handshake = %+v", got)
	}
	if err := reg.Resume(p.ID, nil, false); err != nil {
		t.Fatal(err)
	}
	r := <-res
	if r.err != nil {
		t.Fatalf("resumed handshake failed: %v", r.err)
	}
	_ = r.conn.Close()
	if len(reg.List()) != 0 {
		t.Fatal("registry not empty after resume")
	}
	if err := reg.Resume(p.ID, nil, false); !errors.Is(err, ErrNotPaused) {
		t.Fatalf("second resume: %v, want ErrNotPaused", err)
	}
}

func TestPauseResumeWithList(t *testing.T) {
	t.Parallel()
	pc := newPauseCase(t, nil, "wrong.example", time.Minute)
	leaf, reg := pc.leaf, pc.reg

	// Accepting only self-signed leaves hostname-mismatch: still fails.
	res, p := pc.dial()
	if err := reg.Resume(p.ID, []ExpectedError{{Kind: SelfSigned, Fingerprint: Fingerprint(leaf.cert)}}, false); err != nil {
		t.Fatal(err)
	}
	r := <-res
	ve := verificationError(t, r.err)
	if !slices.Equal(ve.Kinds(), []ErrorKind{HostnameMismatch}) {
		t.Fatalf("unignored %v, want [hostname-mismatch]", ve.Kinds())
	}

	// Accepting both succeeds.
	res, p = pc.dial()
	if err := reg.Resume(p.ID, []ExpectedError{{Kind: SelfSigned}, {Kind: HostnameMismatch}}, false); err != nil {
		t.Fatal(err)
	}
	if r := <-res; r.err != nil {
		t.Fatalf("handshake failed: %v", r.err)
	} else {
		_ = r.conn.Close()
	}
}

func TestPauseAbort(t *testing.T) {
	t.Parallel()
	pc := newPauseCase(t, nil, "localhost", time.Minute)
	reg := pc.reg
	res, p := pc.dial()
	if err := reg.Abort(p.ID); err != nil {
		t.Fatal(err)
	}
	r := <-res
	if !errors.Is(r.err, ErrPauseAborted) {
		t.Fatalf("err = %v, want ErrPauseAborted", r.err)
	}
	verificationError(t, r.err)
	if len(reg.List()) != 0 {
		t.Fatal("registry not empty after abort")
	}
}

func TestPauseTimeout(t *testing.T) {
	t.Parallel()
	pc := newPauseCase(t, nil, "localhost", 20*time.Millisecond)
	reg := pc.reg
	res, _ := pc.dial()
	r := <-res
	if !errors.Is(r.err, ErrPauseTimeout) {
		t.Fatalf("err = %v, want ErrPauseTimeout", r.err)
	}
	if len(reg.List()) != 0 {
		t.Fatal("registry not empty after timeout")
	}
}

// TestPauseCancelledByContext: when the connection's context ends (the
// client that caused the dial went away), the pause ends with it.
func TestPauseCancelledByContext(t *testing.T) {
	t.Parallel()
	pc := newPauseCase(t, nil, "localhost", time.Minute)
	reg := pc.reg
	ctx, cancel := context.WithCancel(context.Background())
	res := dialAsync(ctx, pc.c, pc.s.addr())
	p := <-pc.paused
	cancel()
	r := <-res
	if !errors.Is(r.err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", r.err)
	}
	if _, ok := reg.Get(p.ID); ok {
		t.Fatal("cancelled handshake still listed")
	}
	if err := reg.Resume(p.ID, nil, false); !errors.Is(err, ErrNotPaused) {
		t.Fatalf("resume after cancel: %v", err)
	}
}

// TestPauseNeverForPinMismatch: no decision could accept a pin mismatch,
// so such a handshake fails at once.
func TestPauseNeverForPinMismatch(t *testing.T) {
	t.Parallel()
	leaf := newCert(t, leafSpec("localhost"), nil)
	other := newCert(t, leafSpec("localhost"), nil)
	s := serveChain(t, leaf)
	reg := NewRegistry()
	c := mustClient(t, &ClientOptions{ServerName: "localhost", Policy: Policy{
		Pause: PauseOnSSLErrors, Registry: reg, Pins: []Pin{SPKIPinOf(other.cert)},
		OnPause: func(PausedHandshake) { t.Error("paused on a pin mismatch") },
	}})
	_, err := dial(t, c, s)
	ve := verificationError(t, err)
	if !slices.Contains(ve.Kinds(), PinMismatch) {
		t.Fatalf("kinds %v lack pin-mismatch", ve.Kinds())
	}
}

// TestPauseRememberAsPin: resuming with rememberAsPin trusts the key for
// the host on later handshakes, without pausing; another key pauses again.
func TestPauseRememberAsPin(t *testing.T) {
	t.Parallel()
	pc := newPauseCase(t, nil, "localhost", time.Minute)
	leaf, s, reg, c, paused := pc.leaf, pc.s, pc.reg, pc.c, pc.paused
	res, p := pc.dial()
	if err := reg.Resume(p.ID, nil, true); err != nil {
		t.Fatal(err)
	}
	if r := <-res; r.err != nil {
		t.Fatal(r.err)
	} else {
		_ = r.conn.Close()
	}
	if pins := reg.RememberedPins("localhost"); len(pins) != 1 || pins[0] != SPKIPinOf(leaf.cert) {
		t.Fatalf("remembered %v", pins)
	}
	// Same key: accepted without a pause (the OnPause channel stays empty).
	conn, err := dial(t, c, s)
	if err != nil {
		t.Fatalf("remembered key rejected: %v", err)
	}
	_ = conn.Close()
	select {
	case p := <-paused:
		t.Fatalf("paused again for a remembered key: %+v", p)
	default:
	}
	// A different key pauses again.
	s2 := serveChain(t, newCert(t, leafSpec("localhost"), nil))
	res = dialAsync(pc.ctx, c, s2.addr())
	p = <-paused
	if err := reg.Abort(p.ID); err != nil {
		t.Fatal(err)
	}
	if r := <-res; !errors.Is(r.err, ErrPauseAborted) {
		t.Fatalf("err = %v", r.err)
	}
}

// TestServerPauseClientCertificate: a server verifying client certificates
// pauses bound to the handshake context (ClientHelloInfo.Context); ending
// that context ends the pause.
func TestServerPauseClientCertificate(t *testing.T) {
	t.Parallel()
	srvLeaf := newCert(t, leafSpec("localhost"), nil)
	clientCert := newCert(t, leafSpec("client"), nil)
	reg := NewRegistry()
	paused := make(chan PausedHandshake, 1)
	cfg, err := ServerConfig(&ServerOptions{
		Base:        &tls.Config{Certificates: []tls.Certificate{tlsCert(srvLeaf)}},
		ClientCerts: ClientCertRequired,
		Policy: Policy{Pause: PauseOnSSLErrors, Registry: reg,
			OnPause: func(p PausedHandshake) { paused <- p }},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln := testpeer.Listen(t)
	defer ln.Close()

	run := func(decide func(id string, cancel context.CancelFunc)) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srvErr := acceptHandshake(ctx, ln, cfg, nil)
		cc := mustClient(t, &ClientOptions{ServerName: "localhost", Policy: Policy{PinOnly: true, Pins: []Pin{SPKIPinOf(srvLeaf.cert)}},
			Base: &tls.Config{Certificates: []tls.Certificate{tlsCert(clientCert)}}})
		cliCtx, cliCancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cliCancel()
		conn, cliErr := cc.DialContext(cliCtx, "tcp", ln.Addr().String())
		p := <-paused
		if !slices.Equal(kindsOf(p.Errors), []ErrorKind{SelfSigned}) {
			t.Errorf("server paused for %v, want [self-signed]", kindsOf(p.Errors))
		}
		decide(p.ID, cancel)
		err := <-srvErr
		if cliErr == nil {
			_ = conn.Close()
		}
		return err
	}

	if err := run(func(id string, _ context.CancelFunc) { _ = reg.Resume(id, nil, false) }); err != nil {
		t.Fatalf("resumed server handshake: %v", err)
	}
	if err := run(func(id string, _ context.CancelFunc) { _ = reg.Abort(id) }); !errors.Is(err, ErrPauseAborted) {
		t.Fatalf("aborted server handshake: %v", err)
	}
	if err := run(func(_ string, cancel context.CancelFunc) { cancel() }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled server handshake: %v", err)
	}
	if len(reg.List()) != 0 {
		t.Fatal("registry not empty")
	}
}
