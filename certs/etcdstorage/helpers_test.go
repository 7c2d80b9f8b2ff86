package etcdstorage

import (
	"os"
	"strings"
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

// Environment of the helper processes started by startChild.
const (
	envChildEndpoints = "WSSPROXY_TEST_ETCDSTORAGE_ENDPOINTS"
	envChildPrefix    = "WSSPROXY_TEST_ETCDSTORAGE_PREFIX"
	envChildName      = "WSSPROXY_TEST_ETCDSTORAGE_NAME"
)

// startChild runs the helper test in a child process (killed at the end
// of the test), telling it the cluster's endpoints, the prefix, a name
// (of a lock or a domain) and the extra environment.
func startChild(t testing.TB, helper string, c *testpeer.EtcdCluster, prefix, name string, extra ...string) *testpeer.Self {
	t.Helper()
	env := append([]string{
		envChildEndpoints + "=" + strings.Join(c.Endpoints(), ","),
		envChildPrefix + "=" + prefix,
		envChildName + "=" + name,
	}, extra...)
	return testpeer.StartSelf(t, helper, env...)
}

// childStorage, in a helper process started by startChild, returns a
// Storage on its parent's cluster and prefix whose locks have the given
// lease TTL. Run as an ordinary test, it skips: the helper is not a test
// of its own.
func childStorage(t testing.TB, parent string, ttl time.Duration) *Storage {
	t.Helper()
	eps := os.Getenv(envChildEndpoints)
	if eps == "" {
		t.Skip("helper process for " + parent)
	}
	return newStorage(t, dialEtcd(t, strings.Split(eps, ","), nil), os.Getenv(envChildPrefix), &Options{LockTTL: ttl})
}
