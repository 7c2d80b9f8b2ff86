package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/internal/testpeer/devpki"
	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/tlsconf/psk"
	"github.com/wssproxy/wssproxy/ws"
)

// resumeLog records, per upstream connection, its path and whether its
// TLS handshake resumed a session (tls.ConnectionState.DidResume on the
// upstream's side).
type resumeLog struct {
	seen testpeer.Feed[string] // "PATH new", "PATH resumed" or "PATH not TLS"
}

func (l *resumeLog) handle(c *ws.Conn) {
	how := "not TLS"
	if tc, ok := c.NetConn().(*tls.Conn); ok {
		how = "new"
		if tc.ConnectionState().DidResume {
			how = "resumed"
		}
	}
	l.seen.Add(c.Request().URL.Path + " " + how)
	echoHandle(c)
}

// echoVia sends one message through the proxy at url and checks its echo.
func echoVia(t *testing.T, url string) {
	t.Helper()
	c := dial(t, url, nil)
	defer c.Close(ws.StatusNormalClosure, "")
	testpeer.Echo(ctxT(t), t, c, ws.MessageText, "resume?")
}

// refusedVia dials url and requires a 502 whose reason mentions want.
func refusedVia(t *testing.T, url, want string) {
	t.Helper()
	_, _, err := ws.Dial(ctxT(t), url, nil)
	var herr *ws.HandshakeError
	if !errors.As(err, &herr) || herr.Status != http.StatusBadGateway || !strings.Contains(herr.Reason, want) {
		t.Fatalf("%s: %v, want 502 mentioning %q", url, err, want)
	}
}

// Upstream legs resume their TLS sessions, each route with its own cache
// (two routes to one upstream never share a session), a route without a
// cache never does, and a PSK route beside them is unchanged.
func TestUpstreamSessionResumption(t *testing.T) {
	t.Parallel()
	pki := devpki.New(t)
	log := &resumeLog{}
	secure := startUpstreamTLSHandler(t, serverTLS(t, pki), log.handle)
	client := func(size int) *tlsconf.Client {
		c, err := tlsconf.NewClient(&tlsconf.ClientOptions{CAFile: pki.CACertFile, SessionCacheSize: size})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	plain := startUpstream(t, nil, log.handle)
	inner, _ := startProxy(t, Options{Routes: []Route{{Upstream: plain.url()}}, PSK: pskServerConfig()})
	m := NewMetrics()
	base, _ := startProxy(t, Options{Metrics: m, Routes: []Route{
		{Name: "a", Path: "/a", Upstream: secure, UpstreamTLS: client(tlsconf.DefaultSessionCacheSize)},
		{Name: "b", Path: "/b", Upstream: secure, UpstreamTLS: client(tlsconf.DefaultSessionCacheSize)},
		{Name: "off", Path: "/off", Upstream: secure, UpstreamTLS: client(0)},
		{Name: "psk", Path: "/psk", Upstream: "wss://" + strings.TrimPrefix(inner, "ws://"), UpstreamPSK: &psk.ClientConfig{Identity: []byte("device-1"), Key: testKey}},
	}})
	for _, path := range []string{"/a", "/a", "/b", "/a", "/b", "/off", "/off", "/psk", "/psk"} {
		echoVia(t, base+path)
	}
	want := []string{"/a new", "/a resumed", "/b new", "/a resumed", "/b resumed", "/off new", "/off new", "/psk not TLS", "/psk not TLS"}
	if got := log.seen.Take(); !slices.Equal(got, want) {
		t.Fatalf("upstream saw %v, want %v", got, want)
	}
	// The metric says what the upstream saw; PSK legs are not counted.
	for _, c := range []struct {
		route, resumed string
		n              uint64
	}{{"a", "false", 1}, {"a", "true", 2}, {"b", "false", 1}, {"b", "true", 1}, {"off", "false", 2}, {"off", "true", 0}, {"psk", "false", 0}} {
		if got := count(m.upstreamTLSHandshakes.WithLabelValues(c.route, c.resumed)); got != c.n {
			t.Errorf("upstream_tls_handshakes_total{route=%q,resumed=%q} = %d, want %d", c.route, c.resumed, got, c.n)
		}
	}
}

// A pin remembered on an operator's resume lets the route resume its
// session; once revoked, the next connection (offering that session) is
// refused with 502 as a full handshake would be, and the session is gone.
func TestUpstreamResumedSessionAfterRevokedPin(t *testing.T) {
	t.Parallel()
	leaf := devLeaf(t)
	log := &resumeLog{}
	var mu sync.Mutex
	offered := 0 // sessions the proxy offered the upstream
	cfg := &tls.Config{Certificates: []tls.Certificate{leaf}}
	cfg.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		mu.Lock()
		offered++
		mu.Unlock()
		return cfg.DecryptTicket(identity, cs)
	}
	takeOffered := func() int { mu.Lock(); defer mu.Unlock(); n := offered; offered = 0; return n }
	secure := startUpstreamTLSHandler(t, cfg, log.handle)
	reg := tlsconf.NewRegistry()
	client, err := tlsconf.NewClient(&tlsconf.ClientOptions{SessionCacheSize: 4, Policy: tlsconf.Policy{Registry: reg}})
	if err != nil {
		t.Fatal(err)
	}
	base, _ := startProxy(t, Options{Routes: []Route{{Upstream: secure, UpstreamTLS: client}}})

	refusedVia(t, base+"/", "upstream certificate refused: unknown-authority")
	pin := tlsconf.SPKIPinOf(leaf.Leaf)
	reg.Remember("127.0.0.1", pin)
	echoVia(t, base+"/")
	echoVia(t, base+"/")
	if got := log.seen.Take(); !slices.Equal(got, []string{"/ new", "/ resumed"}) {
		t.Fatalf("upstream saw %v", got)
	}
	if ok, err := reg.Revoke(context.Background(), "127.0.0.1", pin); !ok || err != nil {
		t.Fatalf("revoke: %v %v", ok, err)
	}
	takeOffered()
	refusedVia(t, base+"/", "upstream certificate refused: unknown-authority")
	if n := takeOffered(); n != 1 {
		t.Fatalf("the refused connection offered %d sessions, want its 1", n)
	}
	refusedVia(t, base+"/", "upstream certificate refused: unknown-authority")
	if n := takeOffered(); n != 0 {
		t.Fatalf("the refused session was offered again (%d)", n)
	}
	if got := log.seen.Take(); len(got) != 0 {
		t.Fatalf("a refused upstream got a WebSocket request: %v", got)
	}
	// Remembered again: a full handshake, then resumption again.
	reg.Remember("127.0.0.1", pin)
	echoVia(t, base+"/")
	echoVia(t, base+"/")
	if got := log.seen.Take(); !slices.Equal(got, []string{"/ new", "/ resumed"}) {
		t.Fatalf("upstream saw %v", got)
	}
}
