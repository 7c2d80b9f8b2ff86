package etcdstore_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/tlsconf/etcdstore"
	"github.com/wssproxy/wssproxy/tlsconf/psk"
)

// Two instances of a fleet share one etcd: a pin remembered and a PSK
// identity added on one are served by the other as soon as its Watch
// fires. The second instance hands its store to the PSK server as the
// key source.
func Example() {
	endpoints, stop := exampleEtcd()
	defer stop()
	ctx := context.Background()
	open := func() *etcdstore.Store {
		s, err := etcdstore.Open(ctx, &etcdstore.Options{
			Endpoints: endpoints,
			Prefix:    "/wssproxy/example",
			// TLS, Username and Password as the cluster needs; CacheFile
			// to start from the last state seen while etcd is down.
		})
		if err != nil {
			panic(err)
		}
		return s
	}
	a, b := open(), open()
	defer a.Close()
	defer b.Close()
	changed := b.Watch(ctx)

	pin := tlsconf.Pin{Kind: tlsconf.PinSPKI, Sum: sha256.Sum256([]byte("a public key"))}
	if err := a.PutPin(ctx, tlsconf.PinEntry{Server: "upstream.example:443", Pin: pin, Source: tlsconf.SourceOperator}); err != nil {
		panic(err)
	}
	if err := a.PutPSK(ctx, "device-17", []byte("sixteen byte key")); err != nil {
		panic(err)
	}
	for {
		ids, _ := b.PSKIdentities(ctx)
		pins, _ := b.PinsFor(ctx, "upstream.example:443")
		if len(ids) == 1 && len(pins) == 1 {
			fmt.Println("b serves", pins[0].Server, pins[0].Pin, pins[0].Source)
			fmt.Println("b identities:", ids)
			break
		}
		<-changed
	}
	server := &psk.ServerConfig{GetKey: b.GetKey}
	key, _ := server.GetKey(ctx, []byte("device-17"))
	fmt.Println("key found:", len(key), "bytes; degraded:", b.Status().Degraded)
	// Output:
	// b serves upstream.example:443 sha256//C3NI+gOJcMSOwHzXO2JX857IEPYPFu5zti48biYQq8Y= operator
	// b identities: [device-17]
	// key found: 16 bytes; degraded: false
}

// exampleEtcd starts a one-member etcd (Debian's etcd-server, installed by
// scripts/install-peers.sh) with internal/testpeer, for the example.
func exampleEtcd() (endpoints []string, stop func()) {
	tb := &exampleTB{}
	c := testpeer.StartEtcd(tb, testpeer.EtcdOptions{Members: 1})
	return c.Endpoints(), tb.cleanup
}

// exampleTB is the part of testing.TB that testpeer.StartEtcd uses, for an
// Example (which has no *testing.T): a failure panics.
type exampleTB struct {
	testing.TB // nil: only the methods below are called
	cleanups   []func()
}

func (e *exampleTB) Helper()                   {}
func (e *exampleTB) Failed() bool              { return false }
func (e *exampleTB) Logf(string, ...any)       {}
func (e *exampleTB) Cleanup(f func())          { e.cleanups = append(e.cleanups, f) }
func (e *exampleTB) Fatal(args ...any)         { panic(fmt.Sprint(args...)) }
func (e *exampleTB) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
func (e *exampleTB) Skipf(f string, a ...any)  { panic(fmt.Sprintf(f, a...)) }
func (e *exampleTB) TempDir() string {
	dir, err := os.MkdirTemp("", "etcdstore-example")
	if err != nil {
		panic(err)
	}
	e.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// cleanup runs the cleanups, last first.
func (e *exampleTB) cleanup() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
}
