package servecmd

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/tlsconf/etcdstore"
	"github.com/wssproxy/wssproxy/tlsconf/psk"
	"github.com/wssproxy/wssproxy/ws"
)

// fleetEnv is a real etcd cluster, an admin token and a folder for the
// instances' cache files.
type fleetEnv struct {
	etcd      *testpeer.EtcdCluster
	prefix    string
	tokenFile string
	dir       string
}

func newFleetEnv(t *testing.T, members int, prefix string) *fleetEnv {
	t.Helper()
	return newFleetEnvWith(t, testpeer.EtcdOptions{Members: members}, prefix)
}

func newFleetEnvWith(t *testing.T, opts testpeer.EtcdOptions, prefix string) *fleetEnv {
	t.Helper()
	e := &fleetEnv{etcd: testpeer.StartEtcd(t, opts), prefix: prefix, dir: t.TempDir()}
	e.tokenFile = filepath.Join(e.dir, "admin-token")
	if err := os.WriteFile(e.tokenFile, []byte(adminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// start runs one serve instance of the fleet named name (its own cache
// file, so that instances in one process do not share one).
func (e *fleetEnv) start(t *testing.T, name string, args ...string) *runningServe {
	t.Helper()
	store := []string{"--store", e.etcd.URL(e.prefix),
		"--store-etcd-cache-file", filepath.Join(e.dir, "cache-"+name), "--store-etcd-instance", name}
	if e.etcd.CAFile != "" {
		store = append(store, "--store-etcd-ca-file", e.etcd.CAFile, "--store-etcd-cert-file", e.etcd.CertFile, "--store-etcd-key-file", e.etcd.KeyFile)
	}
	return startServeAdmin(t, e.tokenFile, append(store, args...)...)
}

// waitPausedOn waits until the admin API lists a paused handshake held by
// instance and returns its id.
func (a *adminClient) waitPausedOn(instance string) string {
	a.t.Helper()
	return a.pollPaused(10*time.Second, "no paused handshake of "+instance+" listed", func(l pausedList) (string, bool) {
		for _, p := range l.Paused {
			if p.Instance == instance {
				return p.ID, true
			}
		}
		return "", false
	})
}

// approveThrough dials through holder (named name), waits for the pause
// in decider's admin API, resumes it there with remember_as_pin and
// checks that the handshake went through; it returns the remembered pin.
func approveThrough(t *testing.T, ctx context.Context, holder *runningServe, name string, decider *runningServe) string {
	t.Helper()
	dialed := holder.dialAsync(ctx)
	id := decider.admin.waitPausedOn(name)
	var resumed struct {
		Resumed       bool   `json:"resumed"`
		RememberedPin string `json:"remembered_pin"`
	}
	start := time.Now()
	decider.admin.json("POST", "/v1/paused/"+id+"/resume", `{"remember_as_pin":true}`, 200, &resumed)
	t.Logf("resume of %s's pause answered by %s's admin API in %v", name, decider.admin.base, time.Since(start).Round(time.Millisecond))
	if err := <-dialed; err != nil || !resumed.Resumed {
		t.Fatalf("resumed on %s: %v %+v\n%s", name, err, resumed, holder.logs.String())
	}
	return resumed.RememberedPin
}

// waitPins waits until the admin API lists n remembered pins: within 5
// seconds (a change propagates within one normally).
func (a *adminClient) waitPins(n int) pinList {
	a.t.Helper()
	return a.waitPinsFor(n, 5*time.Second)
}

func (a *adminClient) waitPinsFor(n int, d time.Duration) pinList {
	a.t.Helper()
	var pins pinList
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		a.json("GET", "/v1/pins", "", 200, &pins)
		if len(pins.Pins) == n {
			return pins
		}
	}
	a.t.Fatalf("the admin API lists %d pins, want %d: %+v", len(pins.Pins), n, pins)
	return pins
}

// dialNoPause dials through the proxy and fails the test unless the
// handshake passes without a pause (the pause timeout is far longer).
func (s *runningServe) dialNoPause(t *testing.T, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	if err := <-s.dialAsync(ctx); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, s.logs.String())
	}
}

// Three serve instances on one 3-member etcd share remembered pins and
// paused handshakes: a pause on A is listed by B's admin API and resumed
// there with remember_as_pin (A applies it: its client gets through);
// the pin reaches B and C, whose next handshakes pass without a pause;
// revoked on B, A pauses again; approved again on A, the approval
// survives a restart of all three.
func TestFleetSharesPinsAndPauses(t *testing.T) {
	t.Parallel()
	env := newFleetEnv(t, 3, "pins-test")
	upstream := startTLSEcho(t)
	pause := []string{"--upstream", upstream, "--pause-on-ssl-errors", "--pause-timeout", "30s"}
	names := []string{"a", "b", "c"}
	var s [3]*runningServe
	for i, n := range names {
		s[i] = env.start(t, n, pause...)
	}
	a, b, c := s[0], s[1], s[2]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	pin := approveThrough(t, ctx, a, "a", b)
	approved := time.Now()
	for i, sv := range s {
		pins := sv.admin.waitPins(1)
		if pins.Pins[0].Pin != pin || pins.Pins[0].Source != "resume" {
			t.Fatalf("%s's pins %+v", names[i], pins)
		}
	}
	t.Logf("the approved pin listed by all three %v after the resume answered", time.Since(approved).Round(time.Millisecond))
	b.dialNoPause(t, "B after the approval on A")
	c.dialNoPause(t, "C after the approval on A")

	pins := b.admin.waitPins(1)
	b.admin.json("DELETE", pins.Pins[0].Path, "", 200, nil)
	a.admin.waitPins(0)
	approveThrough(t, ctx, a, "a", a)
	c.admin.waitPins(1)

	for _, sv := range s {
		sv.stop(t)
	}
	for i, n := range names {
		s[i] = env.start(t, n, pause...)
	}
	for i, sv := range s {
		sv.dialNoPause(t, names[i]+" after the restart")
	}
	for _, sv := range s {
		sv.stop(t)
	}
}

// PSK identities from the etcd store (--psk-from-store), with TLS and
// client certificates to etcd (--store-etcd-ca-file, -cert-file,
// -key-file): an identity put into etcd lets the device connect through
// every instance, without a restart; deleted, it is refused by all.
func TestFleetPSKIdentitiesFromStore(t *testing.T) {
	t.Parallel()
	env := newFleetEnvWith(t, testpeer.EtcdOptions{Members: 1, TLS: true}, "psk-test")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ops, err := etcdstore.Open(ctx, &etcdstore.Options{Endpoints: env.etcd.Endpoints(), Prefix: "psk-test", TLS: env.etcd.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	defer ops.Close()
	var s [3]*runningServe
	for i, n := range []string{"a", "b", "c"} {
		s[i] = env.start(t, n, "--psk-from-store")
		if !strings.Contains(s[i].logs.String(), "fleet member") {
			t.Fatalf("no fleet log line: %s", s[i].logs.String())
		}
	}
	key := make([]byte, 32)
	rand.Read(key)
	dial := func(sv *runningServe) error {
		dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
		defer dcancel()
		device := &ws.DialOptions{TLSClient: (&psk.ClientConfig{Identity: []byte("device-7"), Key: key}).TLSClient}
		c, _, err := ws.Dial(dctx, strings.Replace(sv.proxyURL, "ws://", "wss://", 1), device)
		if err == nil {
			c.Close(ws.StatusNormalClosure, "")
		}
		return err
	}
	for _, sv := range s {
		if err := dial(sv); err == nil {
			t.Fatal("an unknown identity was accepted")
		}
	}
	if err := ops.PutPSK(ctx, "device-7", key); err != nil {
		t.Fatal(err)
	}
	for i, sv := range s {
		testpeer.WaitFor(t, 5*time.Second, "the identity accepted by instance "+string(rune('a'+i)), func() bool { return dial(sv) == nil })
	}
	if found, err := ops.DeletePSK(ctx, "device-7"); err != nil || !found {
		t.Fatalf("DeletePSK: %v %v", found, err)
	}
	for i, sv := range s {
		testpeer.WaitFor(t, 5*time.Second, "the identity refused by instance "+string(rune('a'+i)), func() bool { return dial(sv) != nil })
	}
	for _, sv := range s {
		if strings.Contains(sv.logs.String(), string(key)) {
			t.Fatal("a key was logged")
		}
		sv.stop(t)
	}
}

// metric reads one sample of /metrics.
func (a *adminClient) metric(name string) string {
	a.t.Helper()
	_, text := a.do("GET", "/metrics", "")
	for _, l := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			return v
		}
	}
	return ""
}

// readyz returns /readyz's status and body.
func (a *adminClient) readyz() (int, map[string]string) {
	a.t.Helper()
	code, text := a.do("GET", "/readyz", "")
	var v map[string]string
	_ = json.Unmarshal([]byte(text), &v)
	return code, v
}

// etcd going away: with one member killed, then the whole cluster
// stopped, handshakes keep passing by the remembered pin (served from the
// cache), /readyz stays 200 and says degraded, the metrics say so, and a
// revocation made meanwhile is queued (the next handshake on that
// instance pauses at once) and reaches the other instance once etcd is
// back.
func TestFleetEtcdAway(t *testing.T) {
	t.Parallel()
	env := newFleetEnv(t, 3, "away-test")
	upstream := startTLSEcho(t)
	pause := []string{"--upstream", upstream, "--pause-on-ssl-errors", "--pause-timeout", "30s"}
	a, b := env.start(t, "a", pause...), env.start(t, "b", pause...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	approveThrough(t, ctx, a, "a", a)
	b.admin.waitPins(1)
	if v := a.admin.metric("wssproxy_store_degraded"); v != "0" {
		t.Fatalf("store_degraded %q while etcd is up", v)
	}

	env.etcd.Kill(0)
	a.dialNoPause(t, "A with one etcd member killed")
	b.dialNoPause(t, "B with one etcd member killed")

	env.etcd.Stop()
	for _, sv := range []*runningServe{a, b} {
		testpeer.WaitFor(t, 15*time.Second, "/readyz saying degraded", func() bool {
			code, v := sv.admin.readyz()
			return code == http.StatusOK && strings.Contains(v["degraded"], "etcd unreachable")
		})
		if v := sv.admin.metric("wssproxy_store_degraded"); v != "1" {
			t.Fatalf("store_degraded %q with etcd stopped", v)
		}
		sv.dialNoPause(t, "with etcd stopped")
	}
	pins := a.admin.waitPins(1)
	a.admin.json("DELETE", pins.Pins[0].Path, "", 200, nil)
	if v := a.admin.metric("wssproxy_store_pending_writes"); v != "1" {
		t.Fatalf("store_pending_writes %q after a revocation with etcd stopped", v)
	}
	again := a.dialAsync(ctx)
	id := a.admin.waitPausedOn("a")
	a.admin.json("POST", "/v1/paused/"+id+"/abort", "", 200, nil)
	if err := <-again; err == nil {
		t.Fatal("aborted handshake passed")
	}
	// B restarts while etcd is down: it starts from its cache file,
	// degraded, and still knows the pin.
	b.stop(t)
	b = env.start(t, "b", pause...)
	// Ready once its Serve loops run, just after the URLs print.
	testpeer.WaitFor(t, 5*time.Second, "B ready", func() bool {
		code, _ := b.admin.readyz()
		return code == http.StatusOK
	})
	if code, v := b.admin.readyz(); code != http.StatusOK || !strings.Contains(v["degraded"], "etcd unreachable") {
		t.Fatalf("B restarted with etcd down: /readyz %d %v", code, v)
	}
	b.dialNoPause(t, "B restarted from its cache")

	env.etcd.Restart()
	// The queued revocation arrives once both stores reconnected (their
	// retries back off while etcd is away).
	b.admin.waitPinsFor(0, 30*time.Second)
	for _, sv := range []*runningServe{a, b} {
		testpeer.WaitFor(t, 15*time.Second, "/readyz without degraded", func() bool {
			code, v := sv.admin.readyz()
			return code == http.StatusOK && v["degraded"] == "" && v["status"] == "ready"
		})
	}
	// The gauge follows the write queue's flush, which may land just
	// after the store reports itself connected again.
	testpeer.WaitFor(t, 10*time.Second, "store_pending_writes 0 after etcd came back", func() bool {
		return a.admin.metric("wssproxy_store_pending_writes") == "0"
	})
	a.stop(t)
	b.stop(t)
}

// etcd with authentication: serve logs in with --store-etcd-username and
// the password from --store-etcd-password-file (a user whose role may
// read and write the prefix only) and shares pins; a wrong password makes
// serve exit with an error naming the store, without showing either
// password.
func TestFleetEtcdAuth(t *testing.T) {
	t.Parallel()
	env := newFleetEnv(t, 1, "auth-test")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cli, err := clientv3.New(clientv3.Config{Endpoints: env.etcd.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() error{
		func() error { _, err := cli.RoleAdd(ctx, "root"); return err },
		func() error { _, err := cli.UserAdd(ctx, "root", "root-secret-1"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.RoleAdd(ctx, "wssproxy"); return err },
		func() error {
			_, err := cli.RoleGrantPermission(ctx, "wssproxy", "/auth-test", clientv3.GetPrefixRangeEnd("/auth-test"), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := cli.UserAdd(ctx, "proxy", "proxy-secret-2"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "proxy", "wssproxy"); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	} {
		if err := step(); err != nil {
			cli.Close()
			t.Fatal(err)
		}
	}
	cli.Close()
	good, bad := filepath.Join(env.dir, "good-password"), filepath.Join(env.dir, "bad-password")
	os.WriteFile(good, []byte("proxy-secret-2\n"), 0o600)
	os.WriteFile(bad, []byte("wrong-secret-3\n"), 0o600)

	upstream := startTLSEcho(t)
	pause := []string{"--upstream", upstream, "--pause-on-ssl-errors", "--pause-timeout", "30s",
		"--store-etcd-username", "proxy", "--store-etcd-password-file", good}
	a, b := env.start(t, "a", pause...), env.start(t, "b", pause...)
	approveThrough(t, ctx, a, "a", b)
	b.admin.waitPins(1)
	b.dialNoPause(t, "B after the approval on A, with etcd auth")
	for _, sv := range []*runningServe{a, b} {
		if l := sv.logs.String(); strings.Contains(l, "proxy-secret-2") {
			t.Fatal("the password was logged")
		}
		sv.stop(t)
	}

	var out, errb bytes.Buffer
	code := Run(ctx, []string{"--listen", "127.0.0.1:0", "--store", env.etcd.URL(env.prefix),
		"--store-etcd-cache-file", filepath.Join(env.dir, "cache-a"), "--store-etcd-username", "proxy", "--store-etcd-password-file", bad}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "trust store "+env.etcd.URL(env.prefix)+": ") ||
		strings.Contains(errb.String(), "wrong-secret-3") || strings.Contains(errb.String(), "proxy-secret-2") {
		t.Fatalf("wrong password: exit %d, %s", code, errb.String())
	}
	t.Logf("wrong password: %s", strings.TrimSpace(errb.String()))
}
