package etcdstore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/tlsconf"
)

// The whole cluster stops: reads are served from memory, writes are
// queued (bounded) and return within OpTimeout, Status says degraded; a
// Store opened meanwhile from the cache file serves the last state (and
// the writes its predecessor queued), one without a cache fails. The
// cluster restarts: the queued writes arrive and another Store sees them.
func TestClusterStopped(t *testing.T) {
	c := testpeer.StartEtcd(t, testpeer.EtcdOptions{})
	ctx := context.Background()
	dir := t.TempDir()
	cacheA := filepath.Join(dir, "a", "cache.json")
	fast := func(o *Options) {
		o.CacheFile = cacheA
		o.OpTimeout = 300 * time.Millisecond
		o.ProbeInterval = 100 * time.Millisecond
		o.MaxPendingWrites = 4
	}
	a := openStore(t, c, "/fleet", fast)
	blogs := new(testpeer.Buffer)
	b := openStore(t, c, "/fleet", func(o *Options) { o.Logger = zerolog.New(blogs) })
	before := tlsconf.PinEntry{Server: "kept.example:443", Pin: testPin(1), Source: tlsconf.SourceOperator}
	if err := a.PutPin(ctx, before); err != nil {
		t.Fatal(err)
	}
	if err := b.PutPSK(ctx, "dev-old", testKey(1)); err != nil {
		t.Fatal(err)
	}
	testpeer.WaitFor(t, time.Second, "a to see b's identity", func() bool {
		k, _ := a.GetKey(ctx, []byte("dev-old"))
		return k != nil
	})
	if fi, err := os.Stat(cacheA); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("cache file: %v %v", fi, err)
	}

	c.Stop()
	stopped := time.Now()
	// The first write after the stop waits OpTimeout at most, then is
	// queued; b notices by its probe within ProbeInterval + OpTimeout.
	first := tlsconf.PinEntry{Server: "first.example:443", Pin: testPin(9)}
	if err := a.PutPin(ctx, first); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(stopped); d > 300*time.Millisecond+400*time.Millisecond {
		t.Errorf("a write during the outage took %v, OpTimeout is 300ms", d)
	}
	if !a.Status().Degraded || !hasPin(t, a, first.Server, first.Pin) {
		t.Fatalf("after the first write: %+v", a.Status())
	}
	if ok, err := a.DeletePin(ctx, first.Server, first.Pin); !ok || err != nil { // replaces the queued put
		t.Fatalf("delete of a queued put: %v %v", ok, err)
	}
	testpeer.WaitFor(t, 3*time.Second, "b degraded", func() bool { return b.Status().Degraded })
	if d := time.Since(stopped); d > 2*time.Second {
		t.Errorf("b degraded after %v, want within ProbeInterval+OpTimeout (1.2s)", d)
	}
	st := a.Status()
	if st.Err == nil || st.Since.Before(stopped) {
		t.Fatalf("status %+v", st)
	}
	// Reads come from memory.
	if !hasPin(t, a, "kept.example:443", testPin(1)) {
		t.Fatal("cached pin not served")
	}
	if k, err := a.GetKey(ctx, []byte("dev-old")); err != nil || !bytes.Equal(k, testKey(1)) {
		t.Fatalf("cached identity: %x %v", k, err)
	}
	// Writes are queued at once, seen locally, bounded.
	aw := a.Watch(ctx)
	queued := tlsconf.PinEntry{Server: "new.example:443", Pin: testPin(2), Source: tlsconf.SourceResume}
	start := time.Now()
	if err := a.PutPin(ctx, queued); err != nil {
		t.Fatal(err)
	}
	if err := a.PutPSK(ctx, "dev-new", testKey(2)); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.DeletePSK(ctx, "dev-old"); !ok || err != nil {
		t.Fatalf("queued delete: %v %v", ok, err)
	}
	if err := a.PutPSK(ctx, "dev-new", testKey(3)); err != nil { // replaces the queued write
		t.Fatal(err)
	}
	err := a.PutPSK(ctx, "dev-overflow", testKey(4))
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("write beyond the queue: %v", err)
	}
	if d := time.Since(start); d > time.Second { // 5 writes: not one OpTimeout each
		t.Errorf("queued writes took %v", d)
	}
	waitSignal(t, aw, time.Second, "a queued write")
	if k, _ := a.GetKey(ctx, []byte("dev-overflow")); k != nil {
		t.Fatal("a refused write was applied")
	}
	if k, _ := a.GetKey(ctx, []byte("dev-new")); !bytes.Equal(k, testKey(3)) {
		t.Fatalf("queued identity: %x", k)
	}
	if k, _ := a.GetKey(ctx, []byte("dev-old")); k != nil {
		t.Fatal("a queued delete is not seen locally")
	}
	if st := a.Status(); !st.Degraded || st.PendingWrites != 4 {
		t.Fatalf("status %+v", st)
	}

	// A Store opened now without a cache fails, clearly and in time.
	start = time.Now()
	_, err = Open(ctx, storeOptions(t, c, "/fleet", func(o *Options) { o.DialTimeout = 500 * time.Millisecond }))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("unreachable")) {
		t.Fatalf("Open without a cache while etcd is down: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Open failed after %v", d)
	}
	t.Log(err)

	// a goes away (its queue saved); a2 starts from the cache file.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a2 := openStore(t, c, "/fleet", func(o *Options) { fast(o); o.DialTimeout = 300 * time.Millisecond })
	if st := a2.Status(); !st.Degraded || st.PendingWrites != 4 || st.Err == nil {
		t.Fatalf("a2 status %+v", st)
	}
	if !hasPin(t, a2, "kept.example:443", testPin(1)) || !hasPin(t, a2, "new.example:443", testPin(2)) {
		t.Fatal("a2 does not serve the cached and queued pins")
	}
	if k, _ := a2.GetKey(ctx, []byte("dev-new")); !bytes.Equal(k, testKey(3)) {
		t.Fatalf("a2 queued identity: %x", k)
	}

	// etcd comes back: the queue lands, b sees it.
	bw := b.Watch(ctx)
	c.Restart()
	testpeer.WaitFor(t, 5*time.Second, "a2 to send its queue", func() bool {
		st := a2.Status()
		return !st.Degraded && st.PendingWrites == 0
	})
	testpeer.WaitFor(t, 5*time.Second, "b to see a2's queued writes", func() bool {
		k, _ := b.GetKey(ctx, []byte("dev-new"))
		old, _ := b.GetKey(ctx, []byte("dev-old"))
		return bytes.Equal(k, testKey(3)) && old == nil && hasPin(t, b, "new.example:443", testPin(2))
	})
	waitSignal(t, bw, time.Second, "the queue landing")
	if st := b.Status(); st.Degraded {
		t.Fatalf("b status %+v", st)
	}
	// Each transition is logged once, however many probes failed.
	out := blogs.String()
	if strings.Count(out, "etcd unreachable") != 1 || strings.Count(out, "etcd reachable again") != 1 {
		t.Fatalf("b's transitions logged:\n%s", out)
	}
}

// etcd stops while the Store's watch is still being set up (right after
// Open): the Store still notices within ProbeInterval + OpTimeout, and
// its first write waits OpTimeout at most. (The watch call blocks until
// its stream is up; run inline, it stopped the probes for good.)
func TestStoppedRightAfterOpen(t *testing.T) {
	c := testpeer.StartEtcd(t, testpeer.EtcdOptions{Members: 1})
	s := openStore(t, c, "/early", func(o *Options) {
		o.OpTimeout = 300 * time.Millisecond
		o.ProbeInterval = 100 * time.Millisecond
	})
	c.Stop()
	stopped := time.Now()
	testpeer.WaitFor(t, 3*time.Second, "degraded", func() bool { return s.Status().Degraded })
	if d := time.Since(stopped); d > time.Second {
		t.Errorf("degraded after %v", d)
	}
	start := time.Now()
	if err := s.PutPSK(context.Background(), "dev", testKey(1)); err != nil || time.Since(start) > 300*time.Millisecond {
		t.Fatalf("write while degraded: %v after %v", err, time.Since(start))
	}
}

// After a long outage (30 s), the Store is connected again within a few
// seconds of etcd's return: gRPC's reconnect backoff is capped like the
// Store's own (by default it grows to two minutes; measured: 10 s behind
// after this outage, 2.4 s with the cap). Heavy: WSSPROXY_HEAVY=1.
func TestHeavyRecoveryAfterLongOutage(t *testing.T) {
	testpeer.Heavy(t)
	c := testpeer.StartEtcd(t, testpeer.EtcdOptions{Members: 1})
	s := openStore(t, c, "/long", func(o *Options) { o.OpTimeout = 500 * time.Millisecond })
	c.Stop()
	testpeer.WaitFor(t, 5*time.Second, "degraded", func() bool { return s.Status().Degraded })
	time.Sleep(30 * time.Second)
	c.Restart()
	back := time.Now()
	testpeer.WaitFor(t, 2*time.Minute, "connected", func() bool { return !s.Status().Degraded })
	t.Logf("connected %v after etcd's return", time.Since(back))
	if d := time.Since(back); d > 5*time.Second {
		t.Fatalf("connected %v after etcd's return, want within a few seconds", d)
	}
}
