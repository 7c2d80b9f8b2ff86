package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/ws"
	"github.com/wssproxy/wssproxy/ws/echo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// upstreamServer is a test backend: each accepted connection is handed to
// handle, with the handshake request; extensions offered are accepted.
type upstreamServer struct {
	ln       net.Listener
	wg       sync.WaitGroup
	mu       sync.Mutex
	requests []*http.Request
	conns    []net.Conn
}

func startUpstream(t testing.TB, opts *ws.AcceptOptions, handle func(c *ws.Conn)) *upstreamServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveUpstream(t, ln, opts, handle)
}

// serveUpstream runs the test backend on ln (plain or TLS).
func serveUpstream(t testing.TB, ln net.Listener, opts *ws.AcceptOptions, handle func(c *ws.Conn)) *upstreamServer {
	s := &upstreamServer{ln: ln}
	s.wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, nc)
			s.mu.Unlock()
			s.wg.Go(func() {
				defer nc.Close()
				u, err := ws.ReadUpgrade(context.Background(), nc, opts)
				if err != nil {
					return
				}
				s.mu.Lock()
				s.requests = append(s.requests, u.Request)
				s.mu.Unlock()
				c, err := u.Accept(context.Background(), u.SelectSubprotocol(), u.Extensions, nil)
				if err != nil {
					return
				}
				defer c.Abort()
				handle(c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *upstreamServer) url() string { return "ws://" + s.ln.Addr().String() }

func (s *upstreamServer) lastRequest() *http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == 0 {
		return nil
	}
	return s.requests[len(s.requests)-1]
}

func echoHandle(c *ws.Conn) { _ = echo.Serve(context.Background(), c) }

// reportClose is an upstream handler that reads until its connection ends
// and sends the close code it ended with (0 when not a close).
func reportClose(seen chan<- ws.StatusCode) func(*ws.Conn) {
	return func(c *ws.Conn) {
		_, _, err := c.ReadMessage(context.Background())
		var ce *ws.CloseError
		if errors.As(err, &ce) {
			seen <- ce.Code
			return
		}
		seen <- 0
	}
}

// startProxy runs a Server on 127.0.0.1 and returns its ws:// base URL.
func startProxy(t testing.TB, opts Options) (string, *Server) {
	t.Helper()
	s, err := New(&opts)
	if err != nil {
		t.Fatal(err)
	}
	addr := testpeer.RunServer(t, 5*time.Second, s.Serve, func(ctx context.Context) error {
		return s.Shutdown(ctx, ws.StatusGoingAway, "test over")
	})
	return "ws://" + addr, s
}

// startEchoProxy runs a proxy with opts whose one route leads to a new
// echo upstream, and returns its ws:// base URL and the server.
func startEchoProxy(t testing.TB, opts Options) (string, *Server) {
	t.Helper()
	up := startUpstream(t, nil, echoHandle)
	opts.Routes = []Route{{Upstream: up.url()}}
	return startProxy(t, opts)
}

func ctxT(t *testing.T) context.Context { return testpeer.Context(t, 20*time.Second) }

func dial(t *testing.T, url string, opts *ws.DialOptions) *ws.Conn {
	t.Helper()
	c, _, err := ws.Dial(ctxT(t), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Abort)
	return c
}

func closeCode(t *testing.T, err error) ws.StatusCode {
	t.Helper()
	var ce *ws.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a close", err)
	}
	return ce.Code
}

// wantClosed reads from c until it fails and checks that the failure is
// a close with code and reason.
func wantClosed(t *testing.T, c *ws.Conn, code ws.StatusCode, reason string) {
	t.Helper()
	_, _, err := c.ReadMessage(ctxT(t))
	if got := closeCode(t, err); got != code {
		t.Fatalf("client saw %d, want %d", got, code)
	}
	if _, got := c.CloseStatus(); got != reason {
		t.Fatalf("reason %q, want %q", got, reason)
	}
}

func TestRelayEcho(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, nil, echoHandle)
	base, _ := startProxy(t, Options{Routes: []Route{{Upstream: up.url()}}})
	c := dial(t, base+"/x?y=1", &ws.DialOptions{Options: ws.Options{OutgoingFrameSize: 5}})
	ctx := ctxT(t)
	for _, m := range []struct {
		typ ws.MessageType
		p   string
	}{{ws.MessageText, ""}, {ws.MessageText, "héllo wörld, fragmented"}, {ws.MessageBinary, strings.Repeat("\x00\xff", 70000)}} {
		if err := c.WriteMessage(ctx, m.typ, []byte(m.p)); err != nil {
			t.Fatal(err)
		}
		typ, got, err := c.ReadMessage(ctx)
		if err != nil || typ != m.typ || string(got) != m.p {
			t.Fatalf("echo of %d bytes: %v %d %v", len(m.p), typ, len(got), err)
		}
	}
	req := up.lastRequest()
	if req.URL.RequestURI() != "/x?y=1" {
		t.Fatalf("upstream got %q", req.URL.RequestURI())
	}
	if req.Header.Get("X-Forwarded-For") != "127.0.0.1" || req.Header.Get("X-Forwarded-Proto") != "http" ||
		!strings.HasPrefix(req.Header.Get("Forwarded"), "for=127.0.0.1;proto=http;host=") {
		t.Fatalf("forwarding headers: %v", req.Header)
	}
	if err := c.Close(ws.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
}

func TestSubprotocolsAndPings(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, &ws.AcceptOptions{Subprotocols: []string{"b", "a"}}, echoHandle)
	base, _ := startProxy(t, Options{Routes: []Route{{Upstream: up.url()}}})
	pongs := make(chan string, 1)
	c := dial(t, base, &ws.DialOptions{Subprotocols: []string{"a", "b", "c"}, Options: ws.Options{Events: ws.Events{
		OnPong: func(_ time.Duration, p []byte) { pongs <- string(p) },
	}}})
	if c.Subprotocol() != "b" {
		t.Fatalf("subprotocol %q, want the upstream's choice b", c.Subprotocol())
	}
	if got := up.lastRequest().Header.Get("Sec-WebSocket-Protocol"); got != "a, b, c" {
		t.Fatalf("upstream was offered %q", got)
	}
	go c.ReadMessage(context.Background())
	if err := c.Ping(ctxT(t), []byte("end-to-end")); err != nil {
		t.Fatal(err)
	}
	if p := testpeer.Receive(t, pongs, 5*time.Second, "no pong relayed back"); p != "end-to-end" {
		t.Fatalf("pong %q", p)
	}
}

// Close codes and reasons travel end to end, both ways.
func TestClosePropagation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code   ws.StatusCode
		reason string
	}{{1000, "normal"}, {1001, "away"}, {4000, "custom ✓"}, {ws.StatusNoStatusReceived, ""}} {
		t.Run(fmt.Sprintf("client closes %d", tc.code), func(t *testing.T) {
			t.Parallel()
			seen := make(chan *ws.CloseError, 1)
			up := startUpstream(t, nil, func(c *ws.Conn) {
				_, _, err := c.ReadMessage(context.Background())
				var ce *ws.CloseError
				errors.As(err, &ce)
				seen <- ce
			})
			base, _ := startProxy(t, Options{Routes: []Route{{Upstream: up.url()}}})
			c := dial(t, base, nil)
			if err := c.Close(tc.code, tc.reason); err != nil {
				t.Fatal(err)
			}
			got := <-seen
			if got == nil || got.Code != tc.code || got.Reason != tc.reason {
				t.Fatalf("upstream saw %v, want %d %q", got, tc.code, tc.reason)
			}
		})
		t.Run(fmt.Sprintf("upstream closes %d", tc.code), func(t *testing.T) {
			t.Parallel()
			up := startUpstream(t, nil, func(c *ws.Conn) { c.Close(tc.code, tc.reason) })
			base, _ := startProxy(t, Options{Routes: []Route{{Upstream: up.url()}}})
			c := dial(t, base, nil)
			wantClosed(t, c, tc.code, tc.reason)
		})
	}
}

func TestLostLegs(t *testing.T) {
	t.Parallel()
	t.Run("upstream lost gives the client 1014", func(t *testing.T) {
		t.Parallel()
		up := startUpstream(t, nil, func(c *ws.Conn) { c.NetConn().Close() })
		base, _ := startProxy(t, Options{Routes: []Route{{Upstream: up.url()}}})
		c := dial(t, base, nil)
		wantClosed(t, c, ws.StatusBadGateway, "upstream connection lost")
	})
	t.Run("client lost gives the upstream 1001", func(t *testing.T) {
		t.Parallel()
		seen := make(chan ws.StatusCode, 1)
		up := startUpstream(t, nil, reportClose(seen))
		base, _ := startProxy(t, Options{Routes: []Route{{Upstream: up.url()}}})
		c := dial(t, base, nil)
		c.NetConn().Close()
		if code := <-seen; code != ws.StatusGoingAway {
			t.Fatalf("upstream saw %d", code)
		}
	})
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, nil, echoHandle)
	deadLn, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "ws://" + deadLn.Addr().String()
	deadLn.Close()
	refusing := startRefusing(t)
	base, _ := startProxy(t, Options{Routes: []Route{
		{Path: "/chat", Upstream: up.url(), AllowedOrigins: []string{"https://app.example"}},
		{Path: "/dead", Upstream: deadURL},
		{Path: "/refused", Upstream: refusing},
		{Host: "only.example", Upstream: up.url()},
	}})
	cases := []struct {
		path   string
		header http.Header
		status int
		reason string
	}{
		{"/nowhere", nil, 404, "no route"},
		{"/chat", nil, 403, "no Origin"},
		{"/chat", http.Header{"Origin": {"https://evil.example"}}, 403, "not allowed"},
		{"/dead", nil, 502, "upstream refused the connection"},
		{"/refused", nil, 502, "upstream refused the WebSocket handshake: 403 Forbidden"},
	}
	for _, tc := range cases {
		_, resp, err := ws.Dial(ctxT(t), base+tc.path, &ws.DialOptions{Header: tc.header})
		var herr *ws.HandshakeError
		if !errors.As(err, &herr) || herr.Status != tc.status || !strings.Contains(herr.Reason, tc.reason) {
			t.Errorf("%s: got %v (%v), want %d with %q", tc.path, err, resp, tc.status, tc.reason)
		}
	}
	c := dial(t, base+"/chat", &ws.DialOptions{Header: http.Header{"Origin": {"https://APP.example"}}})
	c.Abort()
}

// startRefusing runs a backend that answers every handshake with 403.
func startRefusing(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "go away", http.StatusForbidden)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "ws://" + ln.Addr().String()
}

func TestLimitsAndSplitting(t *testing.T) {
	t.Parallel()
	frames := make(chan ws.Header, 100)
	seen := make(chan ws.StatusCode, 1)
	up := startUpstream(t, nil, func(c *ws.Conn) {
		for {
			h, _, err := c.NextFrame(context.Background())
			if err != nil {
				var ce *ws.CloseError
				errors.As(err, &ce)
				if ce != nil {
					seen <- ce.Code
				}
				return
			}
			frames <- h
		}
	})
	base, _ := startProxy(t, Options{Routes: []Route{{Upstream: up.url(), OutgoingFrameSize: 1000, MaxMessageSize: 10000}}})
	c := dial(t, base, nil)
	ctx := ctxT(t)
	// One 2500-byte frame arrives upstream as 1000+1000+500.
	if err := c.WriteMessage(ctx, ws.MessageBinary, make([]byte, 2500)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := 0; i < 3; i++ {
		h := <-frames
		got = append(got, fmt.Sprintf("%v/%d/%v", h.OpCode, h.Length, h.Fin))
	}
	if want := "binary/1000/false continuation/1000/false continuation/500/true"; strings.Join(got, " ") != want {
		t.Fatalf("frames %q, want %q", strings.Join(got, " "), want)
	}
	// Over the message limit: the client gets 1009, the upstream 1001.
	c.WriteMessage(ctx, ws.MessageBinary, make([]byte, 10001))
	_, _, err := c.ReadMessage(ctx)
	if code := closeCode(t, err); code != ws.StatusMessageTooBig {
		t.Fatalf("client saw %d", code)
	}
	if code := <-seen; code != ws.StatusGoingAway {
		t.Fatalf("upstream saw %d", code)
	}
}

func TestShutdownClosesBothLegs(t *testing.T) {
	t.Parallel()
	seen := make(chan ws.StatusCode, 1)
	up := startUpstream(t, nil, reportClose(seen))
	base, s := startProxy(t, Options{Routes: []Route{{Upstream: up.url()}}})
	c := dial(t, base, nil)
	errc := make(chan error, 1)
	go func() { _, _, err := c.ReadMessage(context.Background()); errc <- err }()
	if err := s.Shutdown(ctxT(t), ws.StatusServiceRestart, "restarting"); err != nil {
		t.Fatal(err)
	}
	if code := closeCode(t, <-errc); code != ws.StatusServiceRestart {
		t.Fatalf("client saw %d", code)
	}
	if code := <-seen; code != ws.StatusServiceRestart {
		t.Fatalf("upstream saw %d", code)
	}
}

func TestIdleAndKeepalive(t *testing.T) {
	t.Parallel()
	t.Run("idle timeout", func(t *testing.T) {
		t.Parallel()
		up := startUpstream(t, nil, echoHandle)
		base, _ := startProxy(t, Options{Routes: []Route{{Upstream: up.url(), IdleTimeout: 200 * time.Millisecond}}})
		c := dial(t, base, nil)
		wantClosed(t, c, ws.StatusGoingAway, "idle timeout")
	})
	t.Run("keepalive pongs are consumed", func(t *testing.T) {
		t.Parallel()
		up := startUpstream(t, nil, echoHandle)
		base, _ := startProxy(t, Options{Routes: []Route{{Upstream: up.url(), PingInterval: 30 * time.Millisecond}}})
		pings := make(chan string, 10)
		pongs := make(chan string, 10)
		c := dial(t, base, &ws.DialOptions{Options: ws.Options{Events: ws.Events{
			OnPing: func(p []byte) { pings <- string(p) },
			OnPong: func(_ time.Duration, p []byte) { pongs <- string(p) },
		}}})
		go c.ReadMessage(context.Background())
		time.Sleep(200 * time.Millisecond)
		if len(pings) == 0 {
			t.Fatal("no keepalive ping reached the client")
		}
		if p := <-pings; !strings.HasPrefix(p, "wssproxy-keepalive-") {
			t.Fatalf("ping payload %q", p)
		}
		if len(pongs) != 0 {
			t.Fatal("the upstream's answers to the proxy's pings were relayed to the client")
		}
	})
	t.Run("silent client fails keepalive", func(t *testing.T) {
		t.Parallel()
		seen := make(chan ws.StatusCode, 1)
		up := startUpstream(t, nil, reportClose(seen))
		base, _ := startProxy(t, Options{Routes: []Route{{Upstream: up.url(), PingInterval: 30 * time.Millisecond, PongTimeout: 100 * time.Millisecond}}})
		// A raw client that completes the handshake and then never reads.
		nc, err := net.Dial("tcp", strings.TrimPrefix(base, "ws://"))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil || resp.StatusCode != 101 {
			t.Fatalf("%v %v", resp, err)
		}
		if code := testpeer.Receive(t, seen, 5*time.Second, "a client that never answers pings was not dropped"); code != ws.StatusGoingAway {
			t.Fatalf("upstream saw %d", code)
		}
	})
}

// Messages still in flight when the client closes reach it before the
// close answer: the proxy answers the client only after the upstream did.
func TestInFlightDeliveredOnClose(t *testing.T) {
	t.Parallel()
	base, _ := startEchoProxy(t, Options{})
	c := dial(t, base, nil)
	ctx := ctxT(t)
	const n = 200
	for i := 0; i < n; i++ {
		if err := c.WriteMessage(ctx, ws.MessageText, []byte(fmt.Sprint("message ", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.StartClose(4000, "done"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		_, msg, err := c.ReadMessage(ctx)
		if err != nil || string(msg) != fmt.Sprint("message ", i) {
			t.Fatalf("message %d: %q %v", i, msg, err)
		}
	}
	_, _, err := c.ReadMessage(ctx)
	if code := closeCode(t, err); code != 4000 {
		t.Fatalf("close %d", code)
	}
}

// An upstream that dies in the middle of a message: the client gets 1014.
func TestUpstreamKilledMidMessage(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, nil, func(c *ws.Conn) {
		// The first fragment of a message, then the TCP connection dies.
		c.WriteFrame(context.Background(), ws.Header{OpCode: ws.OpBinary}, make([]byte, 1000))
		c.NetConn().Close()
	})
	base, _ := startProxy(t, Options{Routes: []Route{{Upstream: up.url()}}})
	c := dial(t, base, nil)
	typ, r, err := c.Reader(ctxT(t))
	if err != nil || typ != ws.MessageBinary {
		t.Fatalf("%v %v", typ, err)
	}
	_, err = io.ReadAll(r)
	if code := closeCode(t, err); code != ws.StatusBadGateway {
		t.Fatalf("client saw %d", code)
	}
}

// requestsSeen returns the upgrade requests the backend has read.
func (s *upstreamServer) requestsSeen() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.requests...)
}

// accepted returns how many connections the backend has accepted.
func (s *upstreamServer) accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
