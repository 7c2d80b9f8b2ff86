package etcdstorage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// TestLock checks lock exclusivity, context handling, Unlock errors, a
// lease lost while held and goroutine hygiene, between storages on
// separate clients of one real etcd cluster.
func TestLock(t *testing.T) {
	c := testpeer.StartEtcd(t, testpeer.EtcdOptions{})
	cliA, cliB := newClient(t, c), newClient(t, c)
	const prefix = "/locks"
	// heldPair returns two storages, one on each client, a 30 s context,
	// and the lock name held by the first storage.
	heldPair := func(t *testing.T, name string) (a, b *Storage, ctx context.Context) {
		t.Helper()
		a, b = newStorage(t, cliA, prefix, nil), newStorage(t, cliB, prefix, nil)
		ctx = testpeer.Context(t, 30*time.Second)
		if err := a.Lock(ctx, name); err != nil {
			t.Fatal(err)
		}
		return a, b, ctx
	}

	t.Run("Exclusive", func(t *testing.T) {
		const name = "issue_cert_exclusive.test"
		a, b, ctx := heldPair(t, name)
		if ok, err := b.TryLock(ctx, name); err != nil || ok {
			t.Fatalf("TryLock of a held lock = %t, %v", ok, err)
		}
		// Lock honours its context while waiting.
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		err := b.Lock(short, name)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Lock of a held lock with a 300ms context: %v", err)
		}
		got := make(chan error, 1)
		go func() { got <- b.Lock(ctx, name) }()
		select {
		case err := <-got:
			t.Fatalf("B took the lock while A held it: %v", err)
		case <-time.After(500 * time.Millisecond):
		}
		if err := a.Unlock(ctx, name); err != nil {
			t.Fatal(err)
		}
		if err := testpeer.Receive(t, got, 10*time.Second, "B did not get the lock after A released it"); err != nil {
			t.Fatal(err)
		}
		// Unlock of a lock not held, here or at all, is an error.
		if err := a.Unlock(ctx, name); !errors.Is(err, ErrNotLocked) {
			t.Fatalf("A's second Unlock: %v", err)
		}
		if err := a.Unlock(ctx, "never_locked"); !errors.Is(err, ErrNotLocked) {
			t.Fatalf("Unlock of a lock never taken: %v", err)
		}
		if err := b.Unlock(ctx, name); err != nil {
			t.Fatal(err)
		}
		// Nothing is left under the lock's prefix.
		left, err := cliA.Get(ctx, prefix+"/acme/locks/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil || left.Count != 0 {
			t.Fatalf("%d lock keys left, %v", left.Count, err)
		}
	})

	t.Run("MutualExclusion", func(t *testing.T) {
		// Three storages (two clients) and 4 goroutines each take turns;
		// never are two inside at once.
		stores := []*Storage{newStorage(t, cliA, prefix, nil), newStorage(t, cliB, prefix, nil), newStorage(t, cliB, prefix, nil)}
		ctx := testpeer.Context(t, 60*time.Second)
		var inside, entries atomic.Int32
		var overlap atomic.Bool
		var wg sync.WaitGroup
		errs := make(chan error, 12)
		for _, s := range stores {
			for range 4 {
				wg.Go(func() {
					if err := s.Lock(ctx, "renew_cert_mutex.test"); err != nil {
						errs <- err
						return
					}
					if inside.Add(1) > 1 {
						overlap.Store(true)
					}
					entries.Add(1)
					time.Sleep(5 * time.Millisecond)
					inside.Add(-1)
					if err := s.Unlock(ctx, "renew_cert_mutex.test"); err != nil {
						errs <- err
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if overlap.Load() || entries.Load() != 12 {
			t.Fatalf("%d entries (want 12), two inside at once: %t", entries.Load(), overlap.Load())
		}
	})

	t.Run("LeaseLost", func(t *testing.T) {
		// The lease of a held lock is revoked behind the holder's back
		// (as when etcd expires it): another storage gets the lock, and
		// the holder's Unlock reports the loss.
		const name = "issue_cert_lost.test"
		a, b, ctx := heldPair(t, name)
		keys, err := cliB.Get(ctx, a.lockPrefix(name), clientv3.WithPrefix())
		if err != nil || len(keys.Kvs) != 1 {
			t.Fatalf("lock keys: %v", err)
		}
		if _, err := cliB.Revoke(ctx, clientv3.LeaseID(keys.Kvs[0].Lease)); err != nil {
			t.Fatal(err)
		}
		if err := b.Lock(ctx, name); err != nil {
			t.Fatal(err)
		}
		testpeer.WaitFor(t, 10*time.Second, "A's keepalive to notice the lost lease", func() bool {
			a.mu.Lock()
			defer a.mu.Unlock()
			select {
			case <-a.held[name].session.Done():
				return true
			default:
				return false
			}
		})
		if err := a.Unlock(ctx, name); !errors.Is(err, ErrLockLost) {
			t.Fatalf("Unlock after the lease was lost: %v", err)
		}
		if err := b.Unlock(ctx, name); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("NoGoroutineLeft", func(t *testing.T) {
		ctx := testpeer.Context(t, 30*time.Second)
		// The client's own lease and watch machinery starts at its first
		// use and lives as long as the client: warm it up first.
		warm := newStorage(t, cliA, prefix, nil)
		if err := warm.Lock(ctx, "warm"); err != nil {
			t.Fatal(err)
		}
		if err := warm.Unlock(ctx, "warm"); err != nil {
			t.Fatal(err)
		}
		ignore := goleak.IgnoreCurrent()

		a, err := New(cliA, prefix, nil)
		if err != nil {
			t.Fatal(err)
		}
		b := newStorage(t, cliB, prefix, nil)
		if err := b.Lock(ctx, "leak"); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			name := fmt.Sprint("leak", i)
			if err := a.Lock(ctx, name); err != nil {
				t.Fatal(err)
			}
			if err := a.Unlock(ctx, name); err != nil {
				t.Fatal(err)
			}
		}
		if ok, _ := a.TryLock(ctx, "leak"); ok {
			t.Fatal("TryLock took B's lock")
		}
		wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		if err := a.Lock(wctx, "leak"); err == nil {
			t.Fatal("Lock took B's lock")
		}
		cancel()
		if err := a.Lock(ctx, "held-at-close"); err != nil {
			t.Fatal(err)
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if err := b.Unlock(ctx, "leak"); err != nil {
			t.Fatal(err)
		}
		goleak.VerifyNone(t, ignore)
		// Close released the lock it held.
		if ok, err := b.TryLock(ctx, "held-at-close"); err != nil || !ok {
			t.Fatalf("lock held at Close still taken: %t, %v", ok, err)
		}
		if err := b.Unlock(ctx, "held-at-close"); err != nil {
			t.Fatal(err)
		}
	})
}

// TestLockHolderProcess is not a test: run by TestLockHolderKilled as a
// child process, it takes a lock with a 2 s lease, prints "LOCKED" and
// waits to be killed.
func TestLockHolderProcess(t *testing.T) {
	s := childStorage(t, "TestLockHolderKilled", 2*time.Second)
	ctx := testpeer.Context(t, 2*time.Minute)
	if err := s.Lock(ctx, os.Getenv(envChildName)); err != nil {
		t.Fatal(err)
	}
	fmt.Println("LOCKED")
	<-ctx.Done()
}

// TestLockHolderKilled: a process holding a lock is killed with SIGKILL
// (so it never unlocks); the lock expires with its lease and another
// client, already waiting, gets it.
func TestLockHolderKilled(t *testing.T) {
	c := testpeer.StartEtcd(t, testpeer.EtcdOptions{})
	const prefix, name = "/killed", "issue_cert_killed.test"
	child := startChild(t, "TestLockHolderProcess", c, prefix, name)
	child.WaitOutput(t, 30*time.Second, "LOCKED")

	s := newStorage(t, newClient(t, c), prefix, nil)
	ctx := testpeer.Context(t, 60*time.Second)
	if ok, err := s.TryLock(ctx, name); err != nil || ok {
		t.Fatalf("TryLock while the child holds the lock = %t, %v", ok, err)
	}
	got := make(chan error, 1)
	go func() { got <- s.Lock(ctx, name) }()
	select {
	case err := <-got:
		t.Fatalf("got the lock while the child is alive: %v", err)
	case <-time.After(3 * time.Second): // longer than the child's 2 s lease: its keepalive works
	}
	killed := time.Now()
	child.Kill()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("lock taken %v after the holder was killed (lease TTL 2s)", time.Since(killed).Round(time.Millisecond))
	case <-ctx.Done():
		t.Fatal("the killed holder's lock never expired")
	}
	if err := s.Unlock(ctx, name); err != nil {
		t.Fatal(err)
	}
}

// TestEtcdDown: with the whole cluster stopped, every call fails within
// its timeout instead of hanging; after a restart the storage works again
// and the data is still there.
func TestEtcdDown(t *testing.T) {
	c := testpeer.StartEtcd(t, testpeer.EtcdOptions{})
	s := newStorage(t, newClient(t, c), "/down", &Options{Timeout: time.Second})
	ctx := testpeer.Context(t, 90*time.Second)
	if err := s.Store(ctx, "kept", []byte("v")); err != nil {
		t.Fatal(err)
	}
	c.Stop()
	start := time.Now()
	if _, err := s.Load(ctx, "kept"); err == nil || errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load with etcd down: %v", err)
	}
	if err := s.Store(ctx, "lost", []byte("v")); err == nil {
		t.Fatal("Store with etcd down succeeded")
	}
	if err := s.Lock(ctx, "down"); err == nil {
		t.Fatal("Lock with etcd down succeeded")
	}
	if s.Exists(ctx, "kept") {
		t.Fatal("Exists with etcd down = true")
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("four calls with a 1s timeout took %v", d)
	}
	c.Restart()
	testpeer.WaitFor(t, 30*time.Second, "the storage to work again", func() bool {
		got, err := s.Load(ctx, "kept")
		return err == nil && string(got) == "v"
	})
	if err := s.Lock(ctx, "down"); err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock(ctx, "down"); err != nil {
		t.Fatal(err)
	}
}
