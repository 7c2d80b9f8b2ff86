package fleet_test

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wssproxy/wssproxy/proxy/admin"
	"github.com/wssproxy/wssproxy/proxy/fleet"
	"github.com/wssproxy/wssproxy/tlsconf"
)

// A Fleet shares one pause registry's handshakes with the other instances
// on the same etcd prefix; the admin API lists and decides them through
// it. Client is normally the trust store's (etcdstore.Store.Client);
// here there is none yet, so the fleet answers ErrNotConnected while the
// local registry keeps working.
func ExampleNew() {
	reg := tlsconf.NewRegistry()
	f, err := fleet.New(&fleet.Options{
		Client:   func() *clientv3.Client { return nil },
		Prefix:   "/wssproxy/edge",
		Instance: "edge-1",
		Registry: reg,
	})
	if err != nil {
		panic(err)
	}
	if _, err := admin.New(&admin.Options{Registry: reg, Fleet: f}); err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }() // publishes and applies decisions until ctx ends
	_, err = f.Remote(ctx)
	fmt.Println(f.Instance(), errors.Is(err, fleet.ErrNotConnected))
	cancel()
	fmt.Println(<-done)
	// Output:
	// edge-1 true
	// <nil>
}
