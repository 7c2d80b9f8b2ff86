package proxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/internal/testpeer/devpki"
	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/ws"
)

// countingListener counts the connections accepted and not yet closed:
// the upstream test server closes its side when the proxy closes its own,
// so open() tells whether the proxy still holds upstream connections.
type countingListener struct {
	net.Listener
	accepted, closed atomic.Int64
}

type countedConn struct {
	net.Conn
	once sync.Once
	l    *countingListener
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.closed.Add(1) })
	return c.Conn.Close()
}

func (l *countingListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.accepted.Add(1)
	return &countedConn{Conn: nc, l: l}, nil
}

func (l *countingListener) open() int64 { return l.accepted.Load() - l.closed.Load() }

// pausingUpstream runs a TLS echo upstream whose certificates the proxy
// does not trust (each connection gets the next of certs, in turn), and
// counts its connections.
func pausingUpstream(t *testing.T, certs ...tls.Certificate) (string, *countingListener) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: raw}
	var next atomic.Uint64
	cfg := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		return &certs[int(next.Add(1)-1)%len(certs)], nil
	}}
	serveUpstream(t, tls.NewListener(cl, cfg), nil, echoHandle)
	return "wss://" + raw.Addr().String(), cl
}

func devLeaf(t *testing.T) tls.Certificate {
	t.Helper()
	return devpki.Certificate(t, devpki.New(t))
}

func pauseRoute(t *testing.T, name, upstream string, reg *tlsconf.Registry, maxPending int) Route {
	t.Helper()
	client, err := tlsconf.NewClient(&tlsconf.ClientOptions{Policy: tlsconf.Policy{
		Pause: tlsconf.PauseOnSSLErrors, Registry: reg, PauseTimeout: time.Minute, MaxPending: maxPending,
	}})
	if err != nil {
		t.Fatal(err)
	}
	return Route{Name: name, Path: "/" + name, Upstream: upstream, UpstreamTLS: client}
}

// waitUntil polls cond until it holds or d passes.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testpeer.WaitFor(t, d, what, cond)
}

type dialed struct {
	c   *ws.Conn
	err error
}

func dialAsync(t *testing.T, url string) <-chan dialed {
	ch := make(chan dialed, 1)
	ctx := ctxT(t)
	go func() {
		c, _, err := ws.Dial(ctx, url, nil)
		ch <- dialed{c, err}
	}()
	return ch
}

// rawUpgrade sends an upgrade request for path on a raw connection and
// leaves the connection waiting for its answer.
func rawUpgrade(t *testing.T, base, path string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(base, "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	req := strings.Replace(handshake, "GET /p ", "GET "+path+" ", 1) + "\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatal(err)
	}
	return nc
}

// TestPauseOneDecisionPerCertificate: 100 concurrent clients of a route
// whose upstream has an untrusted certificate make one registry entry
// with 100 waiters (the limit, set for the test: one more gets 503);
// resuming it lets every client through.
func TestPauseOneDecisionPerCertificate(t *testing.T) {
	t.Parallel()
	upstream, _ := pausingUpstream(t, devLeaf(t))
	const n = 100
	reg := tlsconf.NewRegistryWithOptions(&tlsconf.RegistryOptions{MaxWaiters: n})
	base, srv := startProxy(t, Options{Routes: []Route{pauseRoute(t, "a", upstream, reg, 0)}})

	results := make([]<-chan dialed, n)
	for i := range results {
		results[i] = dialAsync(t, base+"/a")
	}
	waitUntil(t, 20*time.Second, "100 clients waiting on one decision", func() bool {
		l := reg.List()
		if len(l) > 1 {
			t.Fatalf("%d registry entries for one certificate, want 1", len(l))
		}
		return len(l) == 1 && l[0].Waiters == n
	})
	// One client more than RegistryOptions.MaxWaiters gets 503.
	_, _, err := ws.Dial(ctxT(t), base+"/a", nil)
	var herr *ws.HandshakeError
	if !errors.As(err, &herr) || herr.Status != http.StatusServiceUnavailable {
		t.Fatalf("client %d: %v, want 503", n+1, err)
	}
	if v := count(srv.Metrics().pauseRefused.WithLabelValues("a")); v != 1 {
		t.Fatalf("pause_refused_total{route=a} = %d, want 1", v)
	}
	if err := reg.Resume(reg.List()[0].ID, nil, false); err != nil {
		t.Fatal(err)
	}
	for i, ch := range results {
		r := <-ch
		if r.err != nil {
			t.Fatalf("client %d after resume: %v", i, r.err)
		}
		r.c.Close(ws.StatusNormalClosure, "")
	}
	if d, h := reg.Pending(); d != 0 || h != 0 {
		t.Fatalf("after resume: %d decisions, %d handshakes pending", d, h)
	}
}

// TestPauseClientHangupReleases: a client that hangs up while its
// upstream handshake is paused releases at once what it held: its waiter,
// the upstream connection, and the entry with its last waiter; long
// before the pause timeout (a minute). A client that sent data before its
// 101 (pipelining) is still watched the same way.
func TestPauseClientHangupReleases(t *testing.T) {
	t.Parallel()
	upstream, counted := pausingUpstream(t, devLeaf(t))
	reg := tlsconf.NewRegistry()
	base, srv := startProxy(t, Options{Routes: []Route{pauseRoute(t, "a", upstream, reg, 0)}})

	c1 := rawUpgrade(t, base, "/a")
	c2 := rawUpgrade(t, base, "/a")
	c3 := rawUpgrade(t, base, "/a")
	waitUntil(t, 10*time.Second, "3 paused clients", func() bool { _, h := reg.Pending(); return h == 3 })
	if counted.open() != 3 {
		t.Fatalf("%d upstream connections open, want 3", counted.open())
	}
	id := reg.List()[0].ID

	c1.Close()
	waitUntil(t, 2*time.Second, "the hung-up client's waiter and upstream released", func() bool {
		_, h := reg.Pending()
		return h == 2 && counted.open() == 2
	})
	if _, ok := reg.Get(id); !ok {
		t.Fatal("decision dropped while 2 clients still wait on it")
	}

	// Data before the 101 (a client pipelining its first frame) is kept
	// for the relay, and the client is still watched: when it then hangs
	// up, it is released too.
	if _, err := c2.Write([]byte{0x81}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, h := reg.Pending(); h != 2 {
		t.Fatalf("%d handshakes pending after a client's early byte, want 2 (it is still there)", h)
	}
	c2.Close()
	waitUntil(t, 2*time.Second, "the early-data client's waiter and upstream released", func() bool {
		_, h := reg.Pending()
		return h == 1 && counted.open() == 1
	})

	c3.Close()
	waitUntil(t, 2*time.Second, "the entry dropped with its last waiter, every upstream closed", func() bool {
		d, h := reg.Pending()
		return d == 0 && h == 0 && counted.open() == 0
	})
	if _, ok := reg.Get(id); ok {
		t.Fatal("decision still listed")
	}
	m := srv.Metrics()
	waitUntil(t, 2*time.Second, "3 client failures at the upstream stage", func() bool {
		return count(m.clientHandshakeFailures.WithLabelValues("upstream")) == 3
	})
	if v := count(m.upstreamFailures.WithLabelValues("a", "pause-cancelled")); v != 0 {
		t.Fatalf("clients leaving counted as %d upstream failures", v)
	}
}

// TestPauseLimitAnswers503: beyond a route's share of pending decisions,
// or the registry's limit, clients get 503 with the reason, a metric and
// a log line; one route's share does not limit another's.
func TestPauseLimitAnswers503(t *testing.T) {
	t.Parallel()
	// Each upstream connection gets the next of four untrusted
	// certificates: each dial below meets a new one, so a distinct
	// decision (same certificates would join across routes).
	upstream, _ := pausingUpstream(t, devLeaf(t), devLeaf(t), devLeaf(t), devLeaf(t))
	reg := tlsconf.NewRegistryWithOptions(&tlsconf.RegistryOptions{MaxPending: 2})
	var logs testpeer.Buffer
	base, srv := startProxy(t, Options{
		Logger: zerolog.New(&logs),
		Routes: []Route{pauseRoute(t, "a", upstream, reg, 1), pauseRoute(t, "b", upstream, reg, 1), pauseRoute(t, "c", upstream, reg, 1)},
	})
	m := srv.Metrics()
	refused := func(path, route string, n uint64) {
		t.Helper()
		_, _, err := ws.Dial(ctxT(t), base+path, nil)
		var herr *ws.HandshakeError
		if !errors.As(err, &herr) || herr.Status != http.StatusServiceUnavailable || herr.Reason != "upstream certificate awaiting operator decision: too many pending" {
			t.Fatalf("%s: %v, want 503 with the reason", path, err)
		}
		if v := count(m.pauseRefused.WithLabelValues(route)); v != n {
			t.Fatalf("pause_refused_total{route=%q} = %d, want %d", route, v, n)
		}
		want := fmt.Sprintf(`"route":%q`, route)
		waitUntil(t, 2*time.Second, "a log line for the refusal on "+route, func() bool {
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, "too many pending: answered 503") && strings.Contains(line, want) {
					return true
				}
			}
			return false
		})
	}

	a1 := dialAsync(t, base+"/a")
	waitUntil(t, 10*time.Second, "route a's decision", func() bool { d, _ := reg.Pending(); return d == 1 })
	refused("/a", "a", 1) // its second certificate: beyond route a's share
	b1 := dialAsync(t, base+"/b")
	waitUntil(t, 10*time.Second, "route b's decision", func() bool { d, _ := reg.Pending(); return d == 2 })
	refused("/c", "c", 1) // route c has a share, the registry is full
	if v := count(m.handshakesRefused.WithLabelValues("503")); v != 2 {
		t.Fatalf("handshakes_refused_total{status=503} = %d, want 2", v)
	}
	if d, h := reg.Pending(); d != 2 || h != 2 {
		t.Fatalf("Pending() = %d, %d; want 2, 2", d, h)
	}
	for _, p := range reg.List() {
		if err := reg.Abort(p.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range []<-chan dialed{a1, b1} {
		r := <-ch
		var herr *ws.HandshakeError
		if !errors.As(r.err, &herr) || herr.Status != http.StatusBadGateway {
			t.Fatalf("after abort: %v, want 502", r.err)
		}
	}
}

// TestPauseClientHangupReleasesTLS: the same over a wss client leg, whose
// hang-up the watch sees through TLS (close_notify, then FIN).
func TestPauseClientHangupReleasesTLS(t *testing.T) {
	t.Parallel()
	upstream, counted := pausingUpstream(t, devLeaf(t))
	reg := tlsconf.NewRegistry()
	pki := devpki.New(t)
	base, _ := startProxyTLS(t, Options{TLS: serverTLS(t, pki), Routes: []Route{pauseRoute(t, "a", upstream, reg, 0)}})
	tc, err := tls.Dial("tcp", strings.TrimPrefix(base, "wss://"), &tls.Config{RootCAs: testpeer.CertPool(t, pki.CACertFile), ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if _, err := io.WriteString(tc, strings.Replace(handshake, "GET /p ", "GET /a ", 1)+"\r\n"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "a paused client", func() bool { _, h := reg.Pending(); return h == 1 })
	tc.Close()
	waitUntil(t, 2*time.Second, "the entry and the upstream released", func() bool {
		d, h := reg.Pending()
		return d == 0 && h == 0 && counted.open() == 0
	})
}
