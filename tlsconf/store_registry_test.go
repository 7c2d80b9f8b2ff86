package tlsconf

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// A pin remembered on resume is written to the Registry's store, so a
// new Registry (a restarted process) on the same file accepts the key
// without a pause; Revoke deletes it from the file and memory, and the
// next handshake pauses again. A pin recorded for other error kinds does
// not accept this certificate's.
func TestRegistryStoreRememberRevoke(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "pins")
	store, _ := NewFileStore(path, nil)
	pc := newPauseCase(t, NewRegistryWithOptions(&RegistryOptions{Store: store}), "localhost", time.Minute)
	leaf, s, reg, ctx := pc.leaf, pc.s, pc.reg, pc.ctx

	res, p := pc.dial()
	if err := reg.ResumeBy(ctx, p.ID, nil, true, "operator@admin"); err != nil {
		t.Fatal(err)
	}
	if r := <-res; r.err != nil {
		t.Fatal(r.err)
	} else {
		_ = r.conn.Close()
	}
	pin := SPKIPinOf(leaf.cert)
	entries, err := store.Pins(ctx)
	if err != nil || len(entries) != 1 {
		t.Fatalf("store %+v %v", entries, err)
	}
	e := entries[0]
	if e.Server != "localhost" || e.Pin != pin || e.Source != SourceResume || e.By != "operator@admin" ||
		!slices.Equal(e.Kinds, []ErrorKind{SelfSigned}) || time.Since(e.Added) > time.Minute || !strings.Contains(e.Note, "localhost") {
		t.Fatalf("stored entry %+v", e)
	}

	// "Restart": a new registry on the same file.
	reg2 := NewRegistryWithOptions(&RegistryOptions{Store: store})
	if err := reg2.LoadPins(ctx); err != nil {
		t.Fatal(err)
	}
	c2, paused2 := pauseClient(t, reg2, time.Minute)
	conn, err := dial(t, c2, s)
	if err != nil {
		t.Fatalf("remembered key refused after restart: %v", err)
	}
	_ = conn.Close()
	if listed, _ := reg2.Pins(ctx); len(listed) != 1 || listed[0].Pin != pin {
		t.Fatalf("Pins %+v", listed)
	}

	if ok, err := reg2.Revoke(ctx, "localhost", pin); !ok || err != nil {
		t.Fatalf("revoke: %v %v", ok, err)
	}
	if ok, err := reg2.Revoke(ctx, "localhost", pin); ok || err != nil {
		t.Fatalf("revoke again: %v %v", ok, err)
	}
	if left, _ := store.Pins(ctx); len(left) != 0 {
		t.Fatalf("store after revoke: %+v", left)
	}
	res = dialAsync(ctx, c2, s.addr())
	p = <-paused2
	if err := reg2.Abort(p.ID); err != nil {
		t.Fatal(err)
	}
	if r := <-res; !errors.Is(r.err, ErrPauseAborted) {
		t.Fatalf("after revoke: %v", r.err)
	}

	// A pin remembered for expired certificates only does not accept a
	// self-signed one.
	if err := store.PutPin(ctx, PinEntry{Server: "localhost", Pin: pin, Kinds: []ErrorKind{Expired}}); err != nil {
		t.Fatal(err)
	}
	if err := reg2.LoadPins(ctx); err != nil {
		t.Fatal(err)
	}
	res = dialAsync(ctx, c2, s.addr())
	p = <-paused2
	_ = reg2.Abort(p.ID)
	<-res
}

// A store that cannot be written fails Resume with remember, and the
// handshake stays paused (nothing is accepted that is not recorded); a
// Registry without a store refuses LoadPins and WatchPins.
func TestRegistryStoreWriteFails(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "pins")
	if err := os.WriteFile(path, []byte("# shared by mistake\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o644)
	store, _ := NewFileStore(path, nil)
	pc := newPauseCase(t, NewRegistryWithOptions(&RegistryOptions{Store: store}), "localhost", time.Minute)
	reg, ctx := pc.reg, pc.ctx
	res, p := pc.dial()
	if err := reg.Resume(p.ID, nil, true); !errors.Is(err, ErrInsecurePinsFile) {
		t.Fatalf("resume over an insecure file: %v", err)
	}
	if _, ok := reg.Get(p.ID); !ok {
		t.Fatal("handshake no longer paused after a failed store write")
	}
	if err := reg.LoadPins(ctx); !errors.Is(err, ErrInsecurePinsFile) {
		t.Fatalf("LoadPins: %v", err)
	}
	_ = reg.Abort(p.ID)
	if r := <-res; !errors.Is(r.err, ErrPauseAborted) {
		t.Fatalf("err = %v", r.err)
	}
	plain := NewRegistry()
	if err := plain.LoadPins(ctx); !errors.Is(err, ErrNoStore) {
		t.Fatal(err)
	}
	if err := plain.WatchPins(ctx, nil); !errors.Is(err, ErrNoStore) {
		t.Fatal(err)
	}
}

// WatchPins applies a pin another process wrote (here another FileStore
// on the file) and a revocation by editing the file, and returns when
// its context ends.
func TestRegistryWatchPins(t *testing.T) {
	t.Parallel()
	leaf := newCert(t, leafSpec("localhost"), nil)
	path := filepath.Join(t.TempDir(), "pins")
	store, _ := NewFileStore(path, &FileStoreOptions{WatchInterval: 10 * time.Millisecond})
	reg := NewRegistryWithOptions(&RegistryOptions{Store: store})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reg.WatchPins(ctx, nil) }()
	other, _ := NewFileStore(path, nil)
	pin := SPKIPinOf(leaf.cert)
	if err := other.PutPin(ctx, PinEntry{Server: "localhost", Pin: pin, Source: SourceOperator}); err != nil {
		t.Fatal(err)
	}
	waitFor := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for reg.remembers("localhost", leaf.cert, nil) != want {
			if time.Now().After(deadline) {
				t.Fatalf("remembered never became %v", want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor(true)
	if err := os.WriteFile(path, []byte("# emptied by hand\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(false)
	cancel()
	if err := testpeer.Receive(t, done, 5*time.Second, "WatchPins did not return after cancel"); err != nil {
		t.Fatal(err)
	}
}

// hookStore runs beforePut before each PutPin of the store it wraps.
type hookStore struct {
	*FileStore
	beforePut func()
}

func (h hookStore) PutPin(ctx context.Context, e PinEntry) error {
	h.beforePut()
	return h.FileStore.PutPin(ctx, e)
}

// A decision taken while the pin is being written (here an abort from
// the store write itself) wins: Resume reports ErrNotPaused and the pin,
// never approved, is removed from the store again.
func TestRegistryResumeRacesAbort(t *testing.T) {
	t.Parallel()
	s := serveChain(t, newCert(t, leafSpec("localhost"), nil))
	fs, _ := NewFileStore(filepath.Join(t.TempDir(), "pins"), nil)
	var reg *Registry
	var id string
	reg = NewRegistryWithOptions(&RegistryOptions{Store: hookStore{fs, func() { _ = reg.Abort(id) }}})
	c, paused := pauseClient(t, reg, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := dialAsync(ctx, c, s.addr())
	id = (<-paused).ID
	if err := reg.Resume(id, nil, true); !errors.Is(err, ErrNotPaused) {
		t.Fatalf("resume after a concurrent abort: %v", err)
	}
	if r := <-res; !errors.Is(r.err, ErrPauseAborted) {
		t.Fatalf("err = %v", r.err)
	}
	if left, err := fs.Pins(ctx); err != nil || len(left) != 0 {
		t.Fatalf("pin left in the store: %+v %v", left, err)
	}
	if pins := reg.RememberedPins("localhost"); len(pins) != 0 {
		t.Fatalf("remembered in memory: %v", pins)
	}
}
