package etcdstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/tlsconf"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Two Stores writing the same few keys at once, from several goroutines
// each, end up serving exactly what etcd holds (no write of one Store
// left shadowing a later one of the other).
func TestConcurrentWritersConverge(t *testing.T) {
	c := testpeer.StartEtcd(t, testpeer.EtcdOptions{Members: 1})
	ctx := context.Background()
	stores := []*Store{openStore(t, c, "/conv", nil), openStore(t, c, "/conv", nil)}
	var wg sync.WaitGroup
	for g := range 6 {
		s := stores[g%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 40 {
				e := tlsconf.PinEntry{Server: fmt.Sprintf("s%d.example:443", r.IntN(3)), Pin: testPin(r.IntN(3)), Note: fmt.Sprintf("g%d", g)}
				var err error
				if r.IntN(3) == 0 {
					_, err = s.DeletePin(ctx, e.Server, e.Pin)
				} else {
					err = s.PutPin(ctx, e)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	resp, err := stores[0].Client().Get(ctx, "/conv/trust/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, kv := range resp.Kvs {
		want[string(kv.Key)] = string(kv.Value)
	}
	served := func(s *Store) map[string]string {
		pins, _ := s.Pins(ctx)
		m := map[string]string{}
		for _, e := range pins {
			m["/conv/trust/"+pinKey(e.Server, e.Pin)] = e.Note
		}
		return m
	}
	notes := map[string]string{}
	for k, v := range want {
		it := parseItem(k[len("/conv/trust/"):], []byte(v))
		notes[k] = it.pin.Note
	}
	for i, s := range stores {
		testpeer.WaitFor(t, 2*time.Second, fmt.Sprintf("store %d to serve etcd's state", i), func() bool {
			got := served(s)
			return len(got) == len(notes) && !slices.ContainsFunc(keys(notes), func(k string) bool { return got[k] != notes[k] })
		})
		if st := s.Status(); st.PendingWrites != 0 || st.Degraded {
			t.Fatalf("store %d: %+v", i, st)
		}
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A tlsconf.Registry on each of two Stores: a pin stored through one
// instance's Registry store is trusted by the other's, whose WatchPins
// reloads it, and forgotten there once revoked through the first.
func TestRegistriesShareThroughStores(t *testing.T) {
	c := testpeer.StartEtcd(t, testpeer.EtcdOptions{Members: 1})
	ctx, cancel := context.WithCancel(context.Background())
	a, b := openStore(t, c, "/reg", nil), openStore(t, c, "/reg", nil)
	ra := tlsconf.NewRegistryWithOptions(&tlsconf.RegistryOptions{Store: a})
	rb := tlsconf.NewRegistryWithOptions(&tlsconf.RegistryOptions{Store: b})
	done := make(chan error, 1)
	go func() { done <- rb.WatchPins(ctx, func(err error) { t.Error(err) }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	if err := a.PutPin(ctx, tlsconf.PinEntry{Server: "up.example", Pin: testPin(1), Source: tlsconf.SourceResume}); err != nil {
		t.Fatal(err)
	}
	testpeer.WaitFor(t, time.Second, "b's registry to trust the pin", func() bool {
		return slices.Contains(rb.RememberedPins("up.example"), testPin(1))
	})
	if ok, err := ra.Revoke(ctx, "up.example", testPin(1)); !ok || err != nil {
		t.Fatalf("Revoke: %v %v", ok, err)
	}
	testpeer.WaitFor(t, time.Second, "b's registry to forget the pin", func() bool {
		return len(rb.RememberedPins("up.example")) == 0
	})
}
