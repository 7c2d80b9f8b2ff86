package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/proxy/admin"
	"github.com/wssproxy/wssproxy/tlsconf"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const token = "0123456789abcdef0123456789abcdef"

// member is one instance of a test fleet: a pause registry, its Fleet
// running on the shared etcd, and the admin API over both.
type member struct {
	reg    *tlsconf.Registry
	fleet  *Fleet
	h      http.Handler
	client *tlsconf.Client
	stop   func()
}

func etcdClient(t *testing.T, c *testpeer.EtcdCluster) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func startMember(t *testing.T, cli *clientv3.Client, name string, opts Options) *member {
	t.Helper()
	m := &member{reg: tlsconf.NewRegistry()}
	opts.Client, opts.Registry, opts.Instance, opts.Prefix = func() *clientv3.Client { return cli }, m.reg, name, "test/"
	if opts.PollInterval == 0 {
		opts.PollInterval = 50 * time.Millisecond
	}
	var err error
	if m.fleet, err = New(&opts); err != nil {
		t.Fatal(err)
	}
	if m.h, err = admin.New(&admin.Options{Registry: m.reg, Token: []byte(token), Fleet: m.fleet}); err != nil {
		t.Fatal(err)
	}
	m.client, err = tlsconf.NewClient(&tlsconf.ClientOptions{Policy: tlsconf.Policy{
		Pause: tlsconf.PauseOnSSLErrors, Registry: m.reg, PauseTimeout: 20 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = m.fleet.Run(ctx); close(done) }()
	var once sync.Once
	m.stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(m.stop)
	return m
}

// dial makes a TLS handshake to addr through the member's pausing
// client; the self-signed server makes it pause.
func (m *member) dial(ctx context.Context, addr string) chan error {
	ch := make(chan error, 1)
	go func() {
		c, err := m.client.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
		}
		ch <- err
	}()
	return ch
}

func (m *member) do(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	m.h.ServeHTTP(w, r)
	var v map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("%s %s: %d %q", method, path, w.Code, w.Body.String())
	}
	return w.Code, v
}

// paused lists GET /v1/paused as (instance, id) pairs.
func (m *member) paused(t *testing.T) [][2]string {
	t.Helper()
	code, v := m.do(t, "GET", "/v1/paused", "")
	if code != 200 {
		t.Fatalf("GET /v1/paused: %d %v", code, v)
	}
	var out [][2]string
	for _, p := range v["paused"].([]any) {
		e := p.(map[string]any)
		out = append(out, [2]string{e["instance"].(string), e["id"].(string)})
	}
	return out
}

// waitListed waits until m's admin API lists a pause held by instance
// and returns its id.
func (m *member) waitListed(t *testing.T, instance string) string {
	t.Helper()
	var id string
	testpeer.WaitFor(t, 10*time.Second, "a pause of "+instance+" listed", func() bool {
		for _, p := range m.paused(t) {
			if p[0] == instance {
				id = p[1]
				return true
			}
		}
		return false
	})
	return id
}

func selfSignedServer(t *testing.T) string {
	t.Helper()
	s := httptest.NewUnstartedServer(http.NotFoundHandler())
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

// Two instances on a real etcd: a handshake paused on A is listed by B's
// admin API (with A's name) and decided there: an ignore list that does
// not cover its errors is refused by A (422, still paused), a resume with
// remember_as_pin releases it and A remembers the pin; an abort posted on
// B fails A's next pause. When A stops, its pauses vanish from B's list.
func TestFleetListAndDecideAcrossInstances(t *testing.T) {
	etcd := testpeer.StartEtcd(t, testpeer.EtcdOptions{Members: 1})
	cli := etcdClient(t, etcd)
	a := startMember(t, cli, "a", Options{})
	b := startMember(t, cli, "b", Options{})
	upstream := selfSignedServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	first := a.dial(ctx, upstream)
	id := b.waitListed(t, "a")
	if got := a.paused(t); len(got) != 1 || got[0] != [2]string{"a", id} {
		t.Fatalf("A lists %v", got)
	}
	code, v := b.do(t, "POST", "/v1/paused/"+id+"/resume", `{"ignore":["hostname-mismatch"]}`)
	if code != http.StatusUnprocessableEntity || v["unaccepted"] == nil {
		t.Fatalf("uncovering resume through B: %d %v", code, v)
	}
	if _, ok := a.reg.Get(id); !ok {
		t.Fatal("the refused resume released the handshake")
	}
	code, v = b.do(t, "POST", "/v1/paused/"+id+"/resume", `{"remember_as_pin":true}`)
	if code != 200 || v["resumed"] != true || v["remembered_pin"] == "" {
		t.Fatalf("resume through B: %d %v", code, v)
	}
	if err := <-first; err != nil {
		t.Fatalf("resumed handshake: %v", err)
	}
	if pins, _ := a.reg.Pins(ctx); len(pins) != 1 || pins[0].By != "admin@192.0.2.1:1234" {
		t.Fatalf("A's remembered pins %+v", pins)
	}
	testpeer.WaitFor(t, 5*time.Second, "the decided pause unlisted", func() bool { return len(b.paused(t)) == 0 })

	// B's own client pauses (nothing remembered there); A aborts it.
	second := b.dial(ctx, upstream)
	id = a.waitListed(t, "b")
	if code, v := a.do(t, "POST", "/v1/paused/"+id+"/abort", ""); code != 200 || v["aborted"] != true {
		t.Fatalf("abort through A: %d %v", code, v)
	}
	if err := <-second; !errors.Is(err, tlsconf.ErrPauseAborted) {
		t.Fatalf("aborted handshake: %v", err)
	}
	if code, _ := a.do(t, "POST", "/v1/paused/"+id+"/abort", ""); code != http.StatusNotFound {
		t.Fatalf("second abort: %d", code)
	}

	third := b.dial(ctx, upstream)
	a.waitListed(t, "b")
	b.stop()
	if got := a.paused(t); len(got) != 0 {
		t.Fatalf("after B stopped, A lists %v", got)
	}
	cancel()
	<-third
}

// A decision for a paused handshake whose holder does not answer (its
// key is there, nobody watches) is answered 502 after DecisionTimeout
// and withdrawn; an unreadable decision written for an instance is
// dropped; an unknown id is 404; and while etcd is unreachable B still
// lists and decides its own pauses, reporting the fleet's error.
func TestFleetBadInputAndEtcdAway(t *testing.T) {
	etcd := testpeer.StartEtcd(t, testpeer.EtcdOptions{Members: 1})
	cli := etcdClient(t, etcd)
	b := startMember(t, cli, "b", Options{DecisionTimeout: time.Second, OpTimeout: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if _, err := cli.Put(ctx, "test/paused/ghost/GHOSTID", `{"id":"GHOSTID","instance":"ghost"}`); err != nil {
		t.Fatal(err)
	}
	if got := b.paused(t); len(got) != 1 || got[0] != [2]string{"ghost", "GHOSTID"} {
		t.Fatalf("B lists %v", got)
	}
	start := time.Now()
	code, v := b.do(t, "POST", "/v1/paused/GHOSTID/abort", "")
	if code != http.StatusBadGateway || !strings.Contains(v["error"].(string), "did not answer") {
		t.Fatalf("decision nobody answers: %d %v", code, v)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the unanswered decision took %v", d)
	}
	if r, err := cli.Get(ctx, "test/decisions/", clientv3.WithPrefix()); err != nil || len(r.Kvs) != 0 {
		t.Fatalf("decision not withdrawn: %v %v", r, err)
	}
	if code, _ := b.do(t, "POST", "/v1/paused/NOSUCHID/resume", ""); code != http.StatusNotFound {
		t.Fatalf("unknown id: %d", code)
	}
	if _, err := cli.Put(ctx, "test/decisions/b/X", "not json"); err != nil {
		t.Fatal(err)
	}
	testpeer.WaitFor(t, 5*time.Second, "the unreadable decision dropped", func() bool {
		r, err := cli.Get(ctx, "test/decisions/b/X")
		return err == nil && len(r.Kvs) == 0
	})

	etcd.Stop()
	upstream := selfSignedServer(t)
	dialed := b.dial(ctx, upstream)
	testpeer.WaitFor(t, 10*time.Second, "B's own pause", func() bool { return len(b.reg.List()) == 1 })
	code, v = b.do(t, "GET", "/v1/paused", "")
	if code != 200 || len(v["paused"].([]any)) != 1 || v["fleet_error"] == nil {
		t.Fatalf("listing with etcd away: %d %v", code, v)
	}
	id := b.reg.List()[0].ID
	if code, v := b.do(t, "POST", "/v1/paused/"+id+"/resume", ""); code != 200 {
		t.Fatalf("local resume with etcd away: %d %v", code, v)
	}
	if err := <-dialed; err != nil {
		t.Fatalf("resumed: %v", err)
	}
}

// An instance that dies without revoking its lease (its etcd client cut
// off) leaves no paused handshakes behind: its keys expire with the
// lease (TTL 2 s here) and the others stop listing them.
func TestFleetDeadInstanceExpires(t *testing.T) {
	etcd := testpeer.StartEtcd(t, testpeer.EtcdOptions{Members: 1})
	b := startMember(t, etcdClient(t, etcd), "b", Options{})
	dying, err := clientv3.New(clientv3.Config{Endpoints: etcd.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	a := startMember(t, dying, "a", Options{TTL: 2 * time.Second, OpTimeout: 500 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dialed := a.dial(ctx, selfSignedServer(t))
	b.waitListed(t, "a")
	dying.Close() // the keepalives stop; Run's revoke fails
	start := time.Now()
	testpeer.WaitFor(t, 10*time.Second, "A's pause gone from B's list", func() bool { return len(b.paused(t)) == 0 })
	t.Logf("A's keys expired %v after its client was closed", time.Since(start).Round(100*time.Millisecond))
	if _, ok := a.reg.Get(a.reg.List()[0].ID); !ok {
		t.Fatal("the local pause ended with the etcd client")
	}
	cancel()
	<-dialed
}
