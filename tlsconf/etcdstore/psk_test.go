package etcdstore

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/tlsconf/psk"
)

// A PSK server whose key source is one Store accepts a device as soon as
// another Store adds its identity, and refuses it once that Store
// removes it, without a restart.
func TestPSKServerFromStore(t *testing.T) {
	c := testpeer.StartEtcd(t, testpeer.EtcdOptions{Members: 1})
	ctx := context.Background()
	server := openStore(t, c, "/psk", nil)
	admin := openStore(t, c, "/psk", nil)
	cfg := &psk.ServerConfig{GetKey: server.GetKey, HandshakeTimeout: 5 * time.Second}
	addr := testpeer.Serve(t, testpeer.Listen(t), func(ctx context.Context, nc net.Conn) {
		conn := psk.Server(nc, cfg)
		defer conn.Close()
		_ = conn.HandshakeContext(ctx)
	})
	device := func() error {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn := psk.Client(nc, &psk.ClientConfig{Identity: []byte("device-9"), Key: testKey(9)})
		defer conn.Close()
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return conn.HandshakeContext(hctx)
	}

	if err := device(); err == nil {
		t.Fatal("unknown device accepted")
	}
	changed := server.Watch(ctx)
	if err := admin.PutPSK(ctx, "device-9", testKey(9)); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, changed, time.Second, "the identity added")
	if err := device(); err != nil {
		t.Fatalf("device refused after its identity was added: %v", err)
	}
	deletePSKSeen(ctx, t, admin, server, changed, "device-9", "the identity removed")
	if err := device(); err == nil {
		t.Fatal("device accepted after its identity was removed")
	}
}
