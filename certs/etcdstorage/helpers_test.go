package etcdstorage

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// newClient connects to the endpoints (with tlsCfg from the cluster when
// it has TLS) and closes the client when the test ends.
func newClient(t testing.TB, c *testpeer.EtcdCluster) *clientv3.Client {
	t.Helper()
	return dialEtcd(t, c.Endpoints(), c)
}

func dialEtcd(t testing.TB, endpoints []string, c *testpeer.EtcdCluster) *clientv3.Client {
	t.Helper()
	cfg := clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()}
	if c != nil {
		cfg.TLS = c.ClientTLS()
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// newStorage makes a Storage on cli that is closed when the test ends.
func newStorage(t testing.TB, cli *clientv3.Client, prefix string, opts *Options) *Storage {
	t.Helper()
	s, err := New(cli, prefix, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
