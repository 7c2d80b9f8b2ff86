package etcdstorage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// TestStorage checks certmagic's Storage semantics against a real
// 3-member etcd cluster spoken to over TLS with client certificates.
func TestStorage(t *testing.T) {
	c := testpeer.StartEtcd(t, testpeer.EtcdOptions{TLS: true})
	cli := newClient(t, c)

	t.Run("StoreLoadStat", func(t *testing.T) {
		s := newStorage(t, cli, "/semantics", nil)
		ctx := testpeer.Context(t, 30*time.Second)
		key := "certificates/ca/example.com/example.com.crt"
		before := time.Now()
		if err := s.Store(ctx, key, []byte("first")); err != nil {
			t.Fatal(err)
		}
		big := bytes.Repeat([]byte("0123456789abcdef"), 16<<10) // 256 KiB
		if err := s.Store(ctx, key, big); err != nil {
			t.Fatal(err)
		}
		after := time.Now()
		got, err := s.Load(ctx, key)
		if err != nil || !bytes.Equal(got, big) {
			t.Fatalf("Load = %d bytes, %v; want the last stored %d bytes", len(got), err, len(big))
		}
		info, err := s.Stat(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if info.Key != key || !info.IsTerminal || info.Size != int64(len(big)) ||
			info.Modified.Before(before.Add(-time.Second)) || info.Modified.After(after.Add(time.Second)) {
			t.Fatalf("Stat = %+v (stored between %v and %v)", info, before, after)
		}
		if !s.Exists(ctx, key) {
			t.Fatal("Exists = false for a stored key")
		}
		// Stored as is, readable by an operator with etcdctl.
		raw, err := cli.Get(ctx, "/semantics/acme/data/"+key)
		if err != nil || len(raw.Kvs) != 1 || !bytes.Equal(raw.Kvs[0].Value, big) {
			t.Fatalf("raw etcd key: %v", err)
		}
	})

	t.Run("Missing", func(t *testing.T) {
		s := newStorage(t, cli, "/missing", nil)
		ctx := testpeer.Context(t, 30*time.Second)
		if _, err := s.Load(ctx, "no/such.key"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Load of a missing key: %v", err)
		}
		if _, err := s.Stat(ctx, "no/such.key"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat of a missing key: %v", err)
		}
		if _, err := s.List(ctx, "no", true); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("List of a missing directory: %v", err)
		}
		if s.Exists(ctx, "no/such.key") {
			t.Error("Exists = true for a missing key")
		}
		if err := s.Delete(ctx, "no/such.key"); err != nil {
			t.Errorf("Delete of a missing key: %v", err)
		}
		if keys, err := s.List(ctx, "", true); err != nil || len(keys) != 0 {
			t.Errorf("List of an empty storage = %v, %v", keys, err)
		}
	})

	t.Run("Directories", func(t *testing.T) {
		s := newStorage(t, cli, "/dirs", nil)
		s.page = 2 // several pages per List
		ctx := testpeer.Context(t, 30*time.Second)
		for _, k := range []string{"a/b/c.crt", "a/b/c.key", "a/b/e/f", "a/d.json", "a/bb", "x"} {
			if err := s.Store(ctx, k, []byte(k)); err != nil {
				t.Fatal(err)
			}
		}
		list := func(dir string, recursive bool, want ...string) {
			t.Helper()
			got, err := s.List(ctx, dir, recursive)
			slices.Sort(got)
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("List(%q, %t) = %q, %v; want %q", dir, recursive, got, err, want)
			}
		}
		list("a", false, "a/b", "a/bb", "a/d.json")
		list("a", true, "a/b", "a/b/c.crt", "a/b/c.key", "a/b/e", "a/b/e/f", "a/bb", "a/d.json")
		list("a/b", false, "a/b/c.crt", "a/b/c.key", "a/b/e")
		list("", false, "a", "x")
		list("x", true) // a value, not a directory: empty, no error

		info, err := s.Stat(ctx, "a/b")
		if err != nil || info.IsTerminal || info.Key != "a/b" {
			t.Errorf("Stat of a directory = %+v, %v", info, err)
		}
		if !s.Exists(ctx, "a/b") || !s.Exists(ctx, "a/b/e") {
			t.Error("Exists = false for a directory")
		}
		// Prefixes are by component: "a/b/c" is no prefix of "a/b/c.crt".
		if s.Exists(ctx, "a/b/c") || s.Exists(ctx, "a/b/c.cr") {
			t.Error("Exists = true for a partial component")
		}
		if err := s.Delete(ctx, "a/b"); err != nil {
			t.Fatal(err)
		}
		list("a", true, "a/bb", "a/d.json")
		for _, k := range []string{"a/b/c.crt", "a/b/e/f"} {
			if _, err := s.Stat(ctx, k); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("after deleting its directory, Stat(%q): %v", k, err)
			}
		}
		// Nothing is left of the deleted values, metadata included.
		left, err := cli.Get(ctx, "/dirs/acme/", clientv3.WithPrefix())
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range left.Kvs {
			if strings.Contains(string(kv.Key), "/a/b/") {
				t.Errorf("key %s left after Delete", kv.Key)
			}
		}
	})

	t.Run("PrefixIsolation", func(t *testing.T) {
		// "/dep" is a string prefix of "/dep2": the deployments must
		// still be separate.
		a := newStorage(t, cli, "/dep", nil)
		b := newStorage(t, cli, "/dep2/", nil)
		ctx := testpeer.Context(t, 30*time.Second)
		const key = "certificates/ca/shared.test/shared.test.crt"
		if err := a.Store(ctx, key, []byte("A")); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Load(ctx, key); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("deployment B sees A's key: %v", err)
		}
		if err := b.Store(ctx, key, []byte("B")); err != nil {
			t.Fatal(err)
		}
		if got, _ := a.Load(ctx, key); string(got) != "A" {
			t.Fatalf("A's value became %q", got)
		}
		if err := b.Delete(ctx, "certificates"); err != nil {
			t.Fatal(err)
		}
		if got, err := a.Load(ctx, key); err != nil || string(got) != "A" {
			t.Fatalf("B's Delete removed A's key: %q, %v", got, err)
		}
		if keys, _ := b.List(ctx, "", true); len(keys) != 0 {
			t.Fatalf("B lists %q", keys)
		}
		// Locks are per deployment too.
		if err := a.Lock(ctx, "issue_cert_shared.test"); err != nil {
			t.Fatal(err)
		}
		if ok, err := b.TryLock(ctx, "issue_cert_shared.test"); err != nil || !ok {
			t.Fatalf("B's lock blocked by A's: %t, %v", ok, err)
		}
		if err := b.Unlock(ctx, "issue_cert_shared.test"); err != nil {
			t.Fatal(err)
		}
		if err := a.Unlock(ctx, "issue_cert_shared.test"); err != nil {
			t.Fatal(err)
		}
		if s := fmt.Sprint(a); s != "etcd:/dep/acme/" {
			t.Errorf("String() = %q", s)
		}
	})

	t.Run("BadInput", func(t *testing.T) {
		s := newStorage(t, cli, "/bad", &Options{MaxValueSize: 1000})
		ctx := testpeer.Context(t, 30*time.Second)
		for _, k := range []string{"", "/a", "a/", "a//b", "./a", "a/./b", "../a", "a/../b", "..", ".", "a\x00b"} {
			if err := s.Store(ctx, k, []byte("v")); err == nil {
				t.Errorf("Store(%q) accepted", k)
			}
			if _, err := s.Load(ctx, k); err == nil || errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Load(%q) = %v, want an invalid-key error", k, err)
			}
			if err := s.Delete(ctx, k); err == nil {
				t.Errorf("Delete(%q) accepted", k)
			}
		}
		err := s.Store(ctx, "big", make([]byte, 1001))
		if !errors.Is(err, ErrValueTooLarge) {
			t.Fatalf("Store of 1001 bytes with MaxValueSize 1000: %v", err)
		}
		if s.Exists(ctx, "big") {
			t.Fatal("a refused value was stored")
		}
		if err := s.Store(ctx, "big", make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		// A cancelled context fails at once.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Load(cctx, "big"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Load with a cancelled context: %v", err)
		}
		for _, o := range []*Options{{LockTTL: -1}, {Timeout: -1}, {MaxValueSize: -1}} {
			if _, err := New(cli, "/x", o); err == nil {
				t.Errorf("New accepted %+v", o)
			}
		}
		if _, err := New(nil, "/x", nil); err == nil {
			t.Error("New accepted a nil client")
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Store(ctx, "after", nil); !errors.Is(err, ErrClosed) {
			t.Fatalf("Store after Close: %v", err)
		}
		if err := s.Lock(ctx, "after"); !errors.Is(err, ErrClosed) {
			t.Fatalf("Lock after Close: %v", err)
		}
	})
}

// New fills the options left zero with the defaults, keeps the ones set
// (the lease TTL rounded up to whole seconds) and refuses negative ones.
// It does not contact etcd, so a client that was never connected does.
func TestNewOptions(t *testing.T) {
	t.Parallel()
	cli := &clientv3.Client{}
	for _, tc := range []struct {
		opts *Options
		want Options
		ttl  int
	}{
		{nil, Options{LockTTL: DefaultLockTTL, Timeout: DefaultTimeout, MaxValueSize: DefaultMaxValueSize}, 15},
		{&Options{Timeout: time.Second}, Options{LockTTL: DefaultLockTTL, Timeout: time.Second, MaxValueSize: DefaultMaxValueSize}, 15},
		{&Options{LockTTL: 2500 * time.Millisecond, Timeout: time.Second, MaxValueSize: 10},
			Options{LockTTL: 2500 * time.Millisecond, Timeout: time.Second, MaxValueSize: 10}, 3},
	} {
		s, err := New(cli, "/p", tc.opts)
		if err != nil {
			t.Fatalf("New(%+v): %v", tc.opts, err)
		}
		if s.opts.LockTTL != tc.want.LockTTL || s.opts.Timeout != tc.want.Timeout || s.opts.MaxValueSize != tc.want.MaxValueSize || s.ttl != tc.ttl {
			t.Errorf("New(%+v): options %+v, ttl %d s; want %+v, %d s", tc.opts, s.opts, s.ttl, tc.want, tc.ttl)
		}
	}
	for _, o := range []Options{{LockTTL: -1}, {Timeout: -1}, {MaxValueSize: -1}} {
		if _, err := New(cli, "/p", &o); err == nil {
			t.Errorf("New(%+v) accepted a negative option", o)
		}
	}
}
