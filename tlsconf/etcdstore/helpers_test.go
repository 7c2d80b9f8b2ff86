package etcdstore

import (
	"context"
	"crypto/sha256"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/tlsconf"
)

// openStore opens a Store on c (its TLS, if any) with short timeouts;
// edit changes the options first. The Store is closed when the test ends.
func openStore(t *testing.T, c *testpeer.EtcdCluster, prefix string, edit func(*Options)) *Store {
	t.Helper()
	s, err := Open(context.Background(), storeOptions(t, c, prefix, edit))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func storeOptions(t *testing.T, c *testpeer.EtcdCluster, prefix string, edit func(*Options)) *Options {
	o := &Options{
		Endpoints:     c.Endpoints(),
		Prefix:        prefix,
		TLS:           c.ClientTLS(),
		DialTimeout:   3 * time.Second,
		OpTimeout:     time.Second,
		ProbeInterval: 200 * time.Millisecond,
		Logger:        zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel),
	}
	if edit != nil {
		edit(o)
	}
	return o
}

func testPin(i int) tlsconf.Pin {
	return tlsconf.Pin{Kind: tlsconf.PinSPKI, Sum: sha256.Sum256([]byte(strconv.Itoa(i)))}
}

func testKey(i byte) []byte {
	k := make([]byte, 32)
	for j := range k {
		k[j] = i + byte(j)
	}
	return k
}

// waitSignal waits up to d for a value on ch.
func waitSignal(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("no Watch signal within %v after %s", d, what)
	}
}

// deletePSKSeen deletes identity id on from, waits for the Watch signal
// of the store to, and checks that to has no key for id any more: the
// signal may not come before the change it announces.
func deletePSKSeen(ctx context.Context, t *testing.T, from, to *Store, signal <-chan struct{}, id, what string) {
	t.Helper()
	drain(signal)
	if ok, err := from.DeletePSK(ctx, id); !ok || err != nil {
		t.Fatalf("DeletePSK(%s): %v %v", id, ok, err)
	}
	waitSignal(t, signal, time.Second, what)
	if k, _ := to.GetKey(ctx, []byte(id)); k != nil {
		t.Fatalf("identity %s still has a key after the signal of %s", id, what)
	}
}

func hasPin(t *testing.T, s *Store, server string, pin tlsconf.Pin) bool {
	t.Helper()
	got, err := s.PinsFor(context.Background(), server)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range got {
		if e.Pin == pin {
			return true
		}
	}
	return false
}
