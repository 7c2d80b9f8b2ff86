package etcdstore

import (
	"context"
	"crypto/tls"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/wssproxy/wssproxy/internal/testpeer"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// enableAuth turns etcd auth on with a root user, a read-write user
// "wss" and a read-only user "reader" on /auth/.
func enableAuth(t *testing.T, c *testpeer.EtcdCluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	steps := []func() error{
		func() error { _, err := cli.RoleAdd(ctx, "root"); return err },
		func() error { _, err := cli.UserAdd(ctx, "root", "rootpw"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
	}
	for _, u := range []struct {
		name string
		perm clientv3.PermissionType
	}{{"wss", clientv3.PermissionType(clientv3.PermReadWrite)}, {"reader", clientv3.PermissionType(clientv3.PermRead)}} {
		steps = append(steps,
			func() error { _, err := cli.RoleAdd(ctx, u.name); return err },
			func() error {
				_, err := cli.RoleGrantPermission(ctx, u.name, "/auth/", clientv3.GetPrefixRangeEnd("/auth/"), u.perm)
				return err
			},
			func() error { _, err := cli.UserAdd(ctx, u.name, "s3cret-"+u.name); return err },
			func() error { _, err := cli.UserGrantRole(ctx, u.name, u.name); return err },
		)
	}
	steps = append(steps, func() error { _, err := cli.AuthEnable(ctx); return err })
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("auth setup step %d: %v", i, err)
		}
	}
}

// With etcd auth: the right credentials work; a wrong password, missing
// credentials, a prefix the user may not read and TLS to a plain port are
// clear errors (a wrong password even with a cache file); a write etcd
// refuses is an error to the caller, and a queued one that etcd refuses
// later is dropped loudly. The password never shows in logs or errors.
func TestAuth(t *testing.T) {
	c := testpeer.StartEtcd(t, testpeer.EtcdOptions{Members: 1})
	enableAuth(t, c)
	ctx := context.Background()
	logs := new(testpeer.Buffer)
	dir := t.TempDir()
	creds := func(user, pass, cache string) func(*Options) {
		return func(o *Options) {
			o.Username, o.Password, o.CacheFile = user, pass, cache
			o.Logger = zerolog.New(logs)
			o.DialTimeout = time.Second
			o.OpTimeout = 500 * time.Millisecond
		}
	}
	w := openStore(t, c, "/auth", creds("wss", "s3cret-wss", filepath.Join(dir, "w")))
	if err := w.PutPSK(ctx, "dev", testKey(1)); err != nil {
		t.Fatal(err)
	}
	if k, _ := w.GetKey(ctx, []byte("dev")); k == nil {
		t.Fatal("identity not served")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	var errs []string
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"wrong password", creds("wss", "wrong-pw", ""), "refused the user name or password"},
		{"wrong password with a cache", creds("wss", "wrong-pw", filepath.Join(dir, "w")), "refused the user name or password"},
		{"no credentials", nil, "auth enabled"},
		{"TLS to a plain port", func(o *Options) { o.TLS = &tls.Config{} }, "speak plain TCP"},
	} {
		_, err := Open(ctx, storeOptions(t, c, "/auth", tc.edit))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
		errs = append(errs, err.Error())
	}
	_, err := Open(ctx, storeOptions(t, c, "/other", creds("wss", "s3cret-wss", "")))
	if err == nil || !strings.Contains(err.Error(), "may not read /other/trust/") {
		t.Fatalf("prefix not allowed: %v", err)
	}
	errs = append(errs, err.Error())

	// A read-only user: a write is refused to the caller, not queued.
	rcache := filepath.Join(dir, "r")
	r := openStore(t, c, "/auth", creds("reader", "s3cret-reader", rcache))
	if k, _ := r.GetKey(ctx, []byte("dev")); k == nil {
		t.Fatal("reader does not see the identity")
	}
	err = r.PutPSK(ctx, "dev2", testKey(2))
	if err == nil || !strings.Contains(err.Error(), "refused the write") || r.Status().PendingWrites != 0 {
		t.Fatalf("read-only write: %v %+v", err, r.Status())
	}
	errs = append(errs, err.Error())
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	// Started from the cache while etcd is down: no client until etcd is
	// back (it authenticates when created); the queued write etcd then
	// refuses is dropped, logged, counted, and no longer served.
	c.Stop()
	r2 := openStore(t, c, "/auth", creds("reader", "s3cret-reader", rcache))
	if st := r2.Status(); !st.Degraded || r2.Client() != nil {
		t.Fatalf("status %+v client %v", st, r2.Client())
	}
	if err := r2.PutPSK(ctx, "dev3", testKey(3)); err != nil {
		t.Fatal(err)
	}
	if k, _ := r2.GetKey(ctx, []byte("dev3")); k == nil {
		t.Fatal("queued identity not served")
	}
	c.Restart()
	testpeer.WaitFor(t, 10*time.Second, "the refused write dropped", func() bool {
		st := r2.Status()
		return !st.Degraded && st.PendingWrites == 0 && st.DroppedWrites == 1
	})
	if r2.Client() == nil {
		t.Fatal("no client after etcd came back")
	}
	if k, _ := r2.GetKey(ctx, []byte("dev3")); k != nil {
		t.Fatal("refused identity still served")
	}
	if k, _ := r2.GetKey(ctx, []byte("dev")); k == nil {
		t.Fatal("stored identity not served after reconnecting")
	}
	out := logs.String()
	if !strings.Contains(out, `"key":"/auth/trust/psk/dev3"`) || !strings.Contains(out, "refused a queued write") {
		t.Fatalf("the dropped write is not logged with its key:\n%s", out)
	}
	for _, text := range append(errs, out) {
		if strings.Contains(text, "s3cret") || strings.Contains(text, "wrong-pw") {
			t.Fatalf("a password shows: %s", text)
		}
	}
	for _, e := range errs {
		t.Log(e)
	}
	if err := r2.Close(); err != nil {
		t.Fatal(err)
	}
}
