package proxy

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/internal/testpeer/devpki"
	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/ws"
)

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testpeer.WaitFor(t, 10*time.Second, what, cond)
}

// The live view lists relayed connections with their counters and RTTs,
// CloseConnection closes both legs with the code given, and the injected
// metrics count what happened.
func TestConnectionsCloseAndMetrics(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, &ws.AcceptOptions{Subprotocols: []string{"chat"}}, echoHandle)
	m := NewMetrics()
	var ids atomic.Uint64
	ids.Store(100)
	base, s := startProxy(t, Options{
		// Pings often, for RTTs to show soon; a pong late under -race on a
		// loaded machine must not drop the connection the test looks at.
		Routes:  []Route{{Name: "r1", Path: "/r1", Upstream: up.url(), PingInterval: 20 * time.Millisecond, PongTimeout: 10 * time.Second}},
		Metrics: m,
		NextID:  func() uint64 { return ids.Add(1) },
	})
	if s.Metrics() != m {
		t.Fatalf("Metrics %p, want %p", s.Metrics(), m)
	}
	waitFor(t, "ready", s.Ready)
	c := dial(t, base+"/r1", &ws.DialOptions{Subprotocols: []string{"chat"}})
	ctx := ctxT(t)
	go func() {
		// Answer the proxy's keepalive pings while the test looks.
		for {
			if _, _, err := c.NextFrame(ctx); err != nil {
				return
			}
		}
	}()
	waitFor(t, "one connection", func() bool { return len(s.Connections()) == 1 })
	for range 3 {
		if err := c.WriteMessage(ctx, ws.MessageText, []byte("hello")); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "counters and RTTs", func() bool {
		cs := s.Connections()
		if len(cs) != 1 {
			t.Fatalf("the connection ended early: %+v", cs)
		}
		ci := cs[0]
		return ci.MessagesUp == 3 && ci.MessagesDown == 3 && ci.ClientRTT > 0 && ci.UpstreamRTT > 0
	})
	ci := s.Connections()[0]
	if ci.ID != 101 || ci.Route != "r1" || ci.Legs != "ws->ws" || ci.Subprotocol != "chat" || ci.State != "open" ||
		ci.BytesUp != 15 || ci.BytesDown != 15 || !strings.HasPrefix(ci.Peer, "127.0.0.1:") ||
		!strings.HasPrefix(ci.Upstream, up.url()) || time.Since(ci.Started) > time.Minute {
		t.Fatalf("connection %+v", ci)
	}
	if got, ok := s.Connection(101); !ok || got.ID != 101 {
		t.Fatalf("Connection(101) = %+v, %v", got, ok)
	}

	if err := s.CloseConnection(ctx, 999, ws.StatusNormalClosure, ""); !errors.Is(err, ErrNoConnection) {
		t.Fatalf("unknown id: %v", err)
	}
	if err := s.CloseConnection(ctx, 101, ws.StatusNoStatusReceived, ""); err == nil {
		t.Fatal("1005 accepted")
	}
	if err := s.CloseConnection(ctx, 101, ws.StatusNormalClosure, strings.Repeat("x", 124)); err == nil {
		t.Fatal("124-byte reason accepted")
	}
	if err := s.CloseConnection(ctx, 101, 4001, "kicked"); err != nil {
		t.Fatal(err)
	}
	<-c.Done()
	if code, reason := c.CloseStatus(); code != 4001 || reason != "kicked" {
		t.Fatalf("client saw %v %q", code, reason)
	}
	waitFor(t, "no connection", func() bool { return len(s.Connections()) == 0 })

	// A request without a route: 404, counted.
	if _, _, err := ws.Dial(ctx, base+"/nowhere", nil); err == nil {
		t.Fatal("no 404")
	}
	waitFor(t, "the 404 counted", func() bool { return count(m.handshakesRefused.WithLabelValues("404")) == 1 })

	checks := []struct {
		name string
		got  uint64
		want uint64
	}{
		{"connections_total", count(m.connectionsTotal.WithLabelValues("r1")), 1},
		{"messages up", count(m.messages.WithLabelValues("r1", "up")), 3},
		{"messages down", count(m.messages.WithLabelValues("r1", "down")), 3},
		{"closes client 4xxx", count(m.closes.WithLabelValues("r1", "client", "4xxx")), 1},
		{"closes upstream 4xxx", count(m.closes.WithLabelValues("r1", "upstream", "4xxx")), 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if v := count(m.bytes.WithLabelValues("r1", "up")); v < 15 {
		t.Errorf("bytes up %d", v)
	}
	if v := count(m.connectionsOpen.WithLabelValues("r1")); v != 0 {
		t.Errorf("connections_open %d", v)
	}
	if observations(m.keepaliveRTT.WithLabelValues("r1", "client")) == 0 || observations(m.keepaliveRTT.WithLabelValues("r1", "upstream")) == 0 {
		t.Error("no keepalive RTT observed")
	}
	out := exposition(t, m)
	for _, want := range []string{
		"# TYPE wssproxy_connections_total counter\n",
		`wssproxy_connections_total{route="r1"} 1` + "\n",
		`wssproxy_handshakes_refused_total{status="404"} 1` + "\n",
		`wssproxy_closes_total{code="4xxx",leg="client",route="r1"} 1` + "\n",
		`wssproxy_keepalive_rtt_seconds_bucket{leg="client",route="r1",le="+Inf"} `,
		"wssproxy_paused_handshakes_total 0\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("exposition lacks %q:\n%s", want, out)
		}
	}
}

// An upstream failure is counted by reason, and a certificate refusal by
// each tlsconf error kind.
func TestUpstreamFailureMetrics(t *testing.T) {
	t.Parallel()
	pki := devpki.New(t)
	secure := startUpstreamTLS(t, serverTLS(t, pki))
	untrusting, err := tlsconf.NewClient(nil)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics()
	base, _ := startProxy(t, Options{Metrics: m, Routes: []Route{
		{Name: "tls", Path: "/tls", Upstream: secure, UpstreamTLS: untrusting},
		{Name: "x509", Path: "/x509", Upstream: secure},
		{Name: "down", Path: "/down", Upstream: startRefusing(t)},
	}})
	for _, p := range []string{"/tls", "/x509", "/down"} {
		var herr *ws.HandshakeError
		if _, _, err := ws.Dial(ctxT(t), base+p, nil); !errors.As(err, &herr) || herr.Status != http.StatusBadGateway {
			t.Fatalf("%s: %v", p, err)
		}
	}
	waitFor(t, "the failures counted", func() bool {
		return count(m.upstreamFailures.WithLabelValues("tls", "certificate")) == 1 &&
			count(m.upstreamSSLErrors.WithLabelValues("tls", "unknown-authority")) == 1 &&
			count(m.upstreamFailures.WithLabelValues("down", "handshake"))+count(m.upstreamFailures.WithLabelValues("down", "refused")) == 1 &&
			count(m.upstreamFailures.WithLabelValues("x509", "certificate")) == 1 &&
			count(m.handshakesRefused.WithLabelValues("502")) == 3
	})

}

func TestCloseCodeLabel(t *testing.T) {
	t.Parallel()
	for code, want := range map[ws.StatusCode]string{1000: "1000", 1006: "1006", 3000: "3xxx", 3999: "3xxx", 4000: "4xxx", 4999: "4xxx", 5000: "5000"} {
		if got := closeCodeLabel(code); got != want {
			t.Errorf("closeCodeLabel(%d) = %q, want %q", code, got, want)
		}
	}
}

// A pause on SSL errors may outlast the client's handshake timeout: the
// upstream leg is bounded by Route.UpstreamTimeout only.
func TestPauseOutlastsClientHandshakeTimeout(t *testing.T) {
	t.Parallel()
	secure, client, registry, paused := startPausing(t, 1)
	base, _ := startProxy(t, Options{HandshakeTimeout: 200 * time.Millisecond, Routes: []Route{{Upstream: secure, UpstreamTLS: client}}})
	done := make(chan error, 1)
	go func() {
		c, _, err := ws.Dial(ctxT(t), base, nil)
		if err == nil {
			c.Close(ws.StatusNormalClosure, "")
		}
		done <- err
	}()
	p := <-paused
	time.Sleep(400 * time.Millisecond)
	if err := registry.Resume(p.ID, nil, false); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("resumed after the client's handshake timeout: %v", err)
	}
}

// CloseConnection is bounded by its context: with the client leg stuck
// behind a frame its peer does not read, sending the close frame waits,
// and the context ending closes both legs at once instead of after the
// close timeout.
func TestCloseConnectionContext(t *testing.T) {
	t.Parallel()
	chunk := make([]byte, 1<<20)
	up := startUpstream(t, nil, func(c *ws.Conn) {
		for c.WriteMessage(context.Background(), ws.MessageBinary, chunk) == nil {
		}
	})
	base, s := startProxy(t, Options{
		Routes:       []Route{{Name: "flood", Path: "/", Upstream: up.url(), PingInterval: -1, WriteTimeout: time.Minute}},
		CloseTimeout: time.Minute,
	})
	dial(t, base+"/", &ws.DialOptions{Options: ws.Options{ReadBufferSize: 4096}}) // never read
	var last int64 = -1
	waitFor(t, "the client leg stuck", func() bool {
		cs := s.Connections()
		if len(cs) != 1 {
			return false
		}
		stuck := cs[0].BytesDown == last && last > 0
		last = cs[0].BytesDown
		time.Sleep(100 * time.Millisecond)
		return stuck
	})
	id := s.Connections()[0].ID

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.CloseConnection(ctx, id, ws.StatusGoingAway, "operator")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CloseConnection = %v, want the context's deadline", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("CloseConnection took %v: the close timeout, not the context, ended it", took)
	}
	waitFor(t, "the connection gone", func() bool { return len(s.Connections()) == 0 })

	// Already cancelled: nothing is waited for, both legs are closed.
	dial(t, base+"/", nil)
	waitFor(t, "a second connection", func() bool { return len(s.Connections()) == 1 })
	done, stop := context.WithCancel(context.Background())
	stop()
	if err := s.CloseConnection(done, s.Connections()[0].ID, ws.StatusNormalClosure, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
	waitFor(t, "the second connection gone", func() bool { return len(s.Connections()) == 0 })
}
