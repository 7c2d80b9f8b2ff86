package tlsconf

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// tofuStore returns a FileStore in a temporary directory.
func tofuStore(t *testing.T) *FileStore {
	t.Helper()
	s, err := NewFileStore(filepath.Join(t.TempDir(), "state", DefaultPinsFileName), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// decider answers d and counts the questions, keeping the last.
type decider struct {
	d    TOFUDecision
	n    atomic.Int32
	last atomic.Pointer[TOFURequest]
}

func (k *decider) decide(_ context.Context, req TOFURequest) (TOFUDecision, error) {
	k.n.Add(1)
	k.last.Store(&req)
	return k.d, nil
}

// Real handshakes on loopback against a self-signed server, a FileStore
// in a temporary directory: remember, then the key alone decides (no
// question); accept once writes nothing; abort fails with its cause; a
// changed key fails with a pin-mismatch and a KeyChangedError naming
// both keys, whatever Decide would say.
func TestTOFUHandshakes(t *testing.T) {
	t.Parallel()
	ca := newCert(t, caSpec("tofu ca"), nil)
	leaf := newCert(t, leafSpec("localhost"), ca)
	other := newCert(t, leafSpec("localhost"), newCert(t, caSpec("other ca"), nil))
	srv := serveChain(t, leaf)
	store := tofuStore(t)
	server := "localhost:" + strings.Split(srv.addr(), ":")[1]
	client := func(k *decider, remembered func(PinEntry)) *Client {
		return mustClient(t, &ClientOptions{ServerName: "localhost",
			TOFU: &TOFU{Store: store, Server: server, Decide: k.decide, By: "tester", OnRemembered: remembered}})
	}
	ctx := context.Background()

	abort := &decider{d: TOFUAbort}
	_, err := dial(t, client(abort, nil), srv)
	ve := verificationError(t, err)
	if !errors.Is(err, ErrTOFUAborted) || abort.n.Load() != 1 {
		t.Fatalf("abort: %v, asked %d times", err, abort.n.Load())
	}
	req := abort.last.Load()
	if req.Server != server || req.ServerName != "localhost" || req.Pin != SPKIPinOf(leaf.cert) ||
		len(req.Chain) != 1 || req.Chain[0].SPKIPin != SPKIPin(leaf.cert) || req.Chain[0].Issuer != ca.cert.Subject.String() ||
		len(req.Errors) != 1 || req.Errors[0].Kind != UnknownAuthority || len(ve.Unignored) != 1 {
		t.Fatalf("request %+v, error %v", req, err)
	}

	once := &decider{d: TOFUAcceptOnce}
	if _, err := dial(t, client(once, nil), srv); err != nil {
		t.Fatalf("accept once: %v", err)
	}
	if pins, err := store.Pins(ctx); err != nil || len(pins) != 0 {
		t.Fatalf("accept once wrote %v %v", pins, err)
	}
	if _, err := os.Stat(store.Path()); !os.IsNotExist(err) {
		t.Fatalf("accept once created the file: %v", err)
	}

	remember := &decider{d: TOFURemember}
	var got atomic.Pointer[PinEntry]
	if _, err := dial(t, client(remember, func(e PinEntry) { got.Store(&e) }), srv); err != nil {
		t.Fatalf("remember: %v", err)
	}
	pins, err := store.PinsFor(ctx, server)
	if err != nil || len(pins) != 1 || pins[0].Pin != SPKIPinOf(leaf.cert) || pins[0].Source != SourceTOFU ||
		pins[0].By != "tester" || len(pins[0].Kinds) != 1 || pins[0].Kinds[0] != UnknownAuthority || pins[0].Added.IsZero() {
		t.Fatalf("remembered %+v %v", pins, err)
	}
	if e := got.Load(); e == nil || e.Pin != pins[0].Pin {
		t.Fatalf("OnRemembered got %+v", e)
	}

	// The key alone decides now: no question, even to a decider that
	// would abort.
	if _, err := dial(t, client(abort, nil), srv); err != nil || abort.n.Load() != 1 {
		t.Fatalf("remembered key: %v, asked %d times", err, abort.n.Load())
	}

	// Another key for the same server: refused, never asked, whatever
	// the decider would answer.
	changed := serveChain(t, other)
	_, err = dial(t, mustClient(t, &ClientOptions{ServerName: "localhost",
		TOFU: &TOFU{Store: store, Server: server, Decide: remember.decide}}), changed)
	ve = verificationError(t, err)
	var kc *KeyChangedError
	if !errors.As(err, &kc) || kc.Server != server || len(kc.Remembered) != 1 || kc.Remembered[0].Line != 1 ||
		kc.Presented == nil || SPKIPinOf(kc.Presented) != SPKIPinOf(other.cert) ||
		len(ve.Unignored) != 1 || ve.Unignored[0].Kind != PinMismatch || remember.n.Load() != 1 {
		t.Fatalf("changed key: %v (asked %d times)", err, remember.n.Load())
	}
	for _, want := range []string{SPKIPin(other.cert), "pin-mismatch"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("changed key error lacks %q: %v", want, err)
		}
	}
	// Not even an ignore-all policy accepts a changed key.
	_, err = dial(t, mustClient(t, &ClientOptions{ServerName: "localhost", Policy: Policy{Ignore: IgnorePolicy{Mode: IgnoreAll}},
		TOFU: &TOFU{Store: store, Server: server, Decide: remember.decide}}), changed)
	if !errors.As(err, &kc) || remember.n.Load() != 1 {
		t.Fatalf("changed key with ignore-all: %v", err)
	}
	if pins, _ := store.PinsFor(ctx, server); len(pins) != 1 {
		t.Fatalf("a refused key changed the store: %+v", pins)
	}
}

// A first contact whose chain verifies is still asked about (with no
// errors), so that a caller may remember it; nil Decide remembers.
func TestTOFUVerifiedAndDefault(t *testing.T) {
	t.Parallel()
	ca := newCert(t, caSpec("tofu ca"), nil)
	srv := serveChain(t, newCert(t, leafSpec("localhost"), ca))
	store := tofuStore(t)
	k := &decider{d: TOFUAcceptOnce}
	c := mustClient(t, &ClientOptions{ServerName: "localhost", Policy: Policy{Roots: pool(ca)}, TOFU: &TOFU{Store: store, Decide: k.decide}})
	if _, err := dial(t, c, srv); err != nil || k.n.Load() != 1 || len(k.last.Load().Errors) != 0 {
		t.Fatalf("verified: %v, asked %d", err, k.n.Load())
	}
	// Server defaults to the name verified.
	c = mustClient(t, &ClientOptions{ServerName: "localhost", TOFU: &TOFU{Store: store}})
	if _, err := dial(t, c, srv); err != nil {
		t.Fatal(err)
	}
	if pins, err := store.PinsFor(context.Background(), "localhost"); err != nil || len(pins) != 1 || len(pins[0].Kinds) != 1 {
		t.Fatalf("nil Decide: %+v %v", pins, err)
	}
}

// The decision is bounded by the handshake's context and by Timeout,
// whatever Decide does; Decide's context ends with them.
func TestTOFUDecisionBounded(t *testing.T) {
	t.Parallel()
	srv := serveChain(t, newCert(t, leafSpec("localhost"), newCert(t, caSpec("ca"), nil)))
	ended := make(chan error, 2)
	stuck := func(ctx context.Context, _ TOFURequest) (TOFUDecision, error) {
		<-ctx.Done()
		ended <- ctx.Err()
		return TOFURemember, nil // too late: ignored
	}
	c := mustClient(t, &ClientOptions{ServerName: "localhost", TOFU: &TOFU{Store: tofuStore(t), Decide: stuck, Timeout: 100 * time.Millisecond}})
	start := time.Now()
	_, err := dial(t, c, srv)
	if !errors.Is(err, ErrTOFUTimeout) || time.Since(start) > 5*time.Second {
		t.Fatalf("timeout: %v after %v", err, time.Since(start))
	}
	if <-ended == nil {
		t.Fatal("Decide's context did not end")
	}

	c = mustClient(t, &ClientOptions{ServerName: "localhost", TOFU: &TOFU{Store: tofuStore(t), Decide: stuck}})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = c.DialContext(ctx, "tcp", srv.addr())
	if err == nil || errors.Is(err, ErrTOFUTimeout) {
		t.Fatalf("cancelled handshake: %v", err)
	}
	<-ended

	failing := func(context.Context, TOFURequest) (TOFUDecision, error) {
		return TOFURemember, errors.New("no terminal")
	}
	c = mustClient(t, &ClientOptions{ServerName: "localhost", TOFU: &TOFU{Store: tofuStore(t), Decide: failing}})
	if _, err := dial(t, c, srv); err == nil || !strings.Contains(err.Error(), "no terminal") {
		t.Fatalf("failing Decide: %v", err)
	}
}

// A corrupted store fails the handshake naming file and line, before
// anything is asked; bad options are refused by NewClient.
func TestTOFUBadInput(t *testing.T) {
	t.Parallel()
	srv := serveChain(t, newCert(t, leafSpec("localhost"), newCert(t, caSpec("ca"), nil)))
	store := tofuStore(t)
	os.MkdirAll(filepath.Dir(store.Path()), 0o700)
	os.WriteFile(store.Path(), []byte("# comment\nlocalhost:443 not-a-pin\n"), 0o600)
	k := &decider{d: TOFURemember}
	_, err := dial(t, mustClient(t, &ClientOptions{ServerName: "localhost", TOFU: &TOFU{Store: store, Decide: k.decide}}), srv)
	if err == nil || !strings.Contains(err.Error(), store.Path()+":2:") || k.n.Load() != 0 {
		t.Fatalf("corrupted store: %v (asked %d)", err, k.n.Load())
	}

	pin := SPKIPinOf(newCert(t, leafSpec("x"), nil).cert)
	for name, o := range map[string]*ClientOptions{
		"no store": {TOFU: &TOFU{}},
		"pins":     {Policy: Policy{Pins: []Pin{pin}}, TOFU: &TOFU{Store: store}},
		"pause":    {Policy: Policy{Pause: PauseOnSSLErrors, Registry: NewRegistry()}, TOFU: &TOFU{Store: store}},
		"server":   {TOFU: &TOFU{Store: store, Server: "a b"}},
		"by":       {TOFU: &TOFU{Store: store, By: "x=y"}},
		"negative": {TOFU: &TOFU{Store: store, Timeout: -time.Second}},
	} {
		if _, err := NewClient(o); err == nil || !strings.Contains(err.Error(), "TOFU") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
