package etcdstorage

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// BenchmarkStoreLoad stores and loads a 4 KiB value (a certificate chain's
// size) on a real 3-member etcd cluster on loopback.
func BenchmarkStoreLoad(b *testing.B) {
	c := testpeer.StartEtcd(b, testpeer.EtcdOptions{})
	s := newStorage(b, newClient(b, c), "/bench", nil)
	ctx := context.Background()
	value := bytes.Repeat([]byte("x"), 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(value)))
	for b.Loop() {
		if err := s.Store(ctx, "certificates/ca/bench.test/bench.test.crt", value); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Load(ctx, "certificates/ca/bench.test/bench.test.crt"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLockUnlock takes and releases an uncontended lock (a lease
// grant, a transaction, a read and a revoke).
func BenchmarkLockUnlock(b *testing.B) {
	c := testpeer.StartEtcd(b, testpeer.EtcdOptions{})
	s := newStorage(b, newClient(b, c), "/bench", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Lock(ctx, "issue_cert_bench.test"); err != nil {
			b.Fatal(err)
		}
		if err := s.Unlock(ctx, "issue_cert_bench.test"); err != nil {
			b.Fatal(err)
		}
	}
}
