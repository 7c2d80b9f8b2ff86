package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/ws"
)

// Helpers of the fault tests (faults_test.go): an upstream in the test
// process whose behaviour is chosen per request path, a connection kept
// busy through the proxy while a fault happens on another one, and
// readers for the proxy's JSON log.

// upstreamHandler serves one upstream connection after its request was
// read; nc is the transport (a *tls.Conn for a wss upstream). done is
// closed when the test ends.
type upstreamHandler func(nc net.Conn, up *ws.Upgrade, done <-chan struct{})

// faultUpstream is a ws (or wss) server in the test process. A request
// whose path has a handler gets it; every other path is echoed, and the
// close code the echo saw is reported on closed(path).
type faultUpstream struct {
	url      string // ws://127.0.0.1:PORT or wss://…, no trailing slash
	handlers map[string]upstreamHandler
	done     chan struct{}
	wg       sync.WaitGroup
	accepted atomic.Int64 // connections accepted

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closes map[string]chan ws.StatusCode
}

// startFaultUpstream listens on 127.0.0.1 (wss with the upstream dev CA's
// leaf when secure); at the end of the test every connection is closed and
// every handler joined.
func startFaultUpstream(t *testing.T, secure bool, handlers map[string]upstreamHandler) *faultUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &faultUpstream{url: "ws://" + ln.Addr().String(), handlers: handlers, done: make(chan struct{}),
		conns: map[net.Conn]struct{}{}, closes: map[string]chan ws.StatusCode{}}
	if secure {
		cert, err := tls.LoadX509KeyPair(env.up.CertFile, env.up.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
		u.url = "wss://" + ln.Addr().String()
	}
	u.wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			u.accepted.Add(1)
			u.mu.Lock()
			u.conns[nc] = struct{}{}
			u.mu.Unlock()
			u.wg.Go(func() { u.serve(nc) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		close(u.done)
		u.mu.Lock()
		for nc := range u.conns {
			nc.Close()
		}
		u.mu.Unlock()
		u.wg.Wait()
	})
	return u
}

func (u *faultUpstream) serve(nc net.Conn) {
	defer func() {
		nc.Close()
		u.mu.Lock()
		delete(u.conns, nc)
		u.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	up, err := ws.ReadUpgrade(ctx, nc, nil)
	cancel()
	if err != nil {
		return
	}
	if h := u.handlers[up.Request.URL.Path]; h != nil {
		h(nc, up, u.done)
		return
	}
	u.echo(up)
}

// echo answers every message with itself until the connection ends, then
// reports the close code it got (1006 for none).
func (u *faultUpstream) echo(up *ws.Upgrade) {
	path := up.Request.URL.Path
	c, err := up.Accept(context.Background(), "", "", nil)
	if err != nil {
		return
	}
	defer c.Abort()
	for {
		typ, msg, err := c.ReadMessage(context.Background()) // ended by the test's cleanup at the latest
		if err != nil {
			code := ws.StatusAbnormalClosure
			var ce *ws.CloseError
			if errors.As(err, &ce) {
				code = ce.Code
			}
			u.closed(path) <- code
			return
		}
		_ = c.WriteMessage(context.Background(), typ, msg)
	}
}

// closed delivers the close code the echo saw on a connection for path.
func (u *faultUpstream) closed(path string) chan ws.StatusCode {
	u.mu.Lock()
	defer u.mu.Unlock()
	ch := u.closes[path]
	if ch == nil {
		ch = make(chan ws.StatusCode, 16)
		u.closes[path] = ch
	}
	return ch
}

// waitClosed returns the close code the echo saw for path, and how long
// after since it arrived.
func (u *faultUpstream) waitClosed(t *testing.T, path string, since time.Time) (ws.StatusCode, time.Duration) {
	t.Helper()
	select {
	case code := <-u.closed(path):
		return code, time.Since(since)
	case <-time.After(waitTimeout):
		t.Fatalf("the upstream connection for %s did not end within %v", path, waitTimeout)
		return 0, 0
	}
}

// tcpOf is the TCP connection under nc (itself, or under TLS).
func tcpOf(t *testing.T, nc net.Conn) *net.TCPConn {
	t.Helper()
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	tcp, ok := nc.(*net.TCPConn)
	if !ok {
		t.Fatalf("%T is not a TCP connection", nc)
	}
	return tcp
}

// reset ends nc with a TCP RST (SO_LINGER 0) instead of a FIN.
func reset(nc net.Conn) {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	if tcp, ok := nc.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	nc.Close()
}

// serveRoutes runs serve with a YAML config: one listener (wss with the
// dev CA when secure) with these routes, each a YAML mapping's lines
// ("upstream: ws://…", "upstream_timeout: 1s", …).
func serveRoutes(t *testing.T, secure bool, routes ...[]string) *serveProc {
	t.Helper()
	var b strings.Builder
	b.WriteString("listeners:\n  - listen: 127.0.0.1:0\n")
	if secure {
		fmt.Fprintf(&b, "    tls:\n      dev_cert:\n        dir: %q\n", env.devDir)
	}
	b.WriteString("    routes:\n")
	for _, r := range routes {
		for i, l := range r {
			if i == 0 {
				b.WriteString("      - " + l + "\n")
			} else {
				b.WriteString("        " + l + "\n")
			}
		}
	}
	path := filepath.Join(t.TempDir(), "wssproxy.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return startServe(t, "--config", path)
}

// dialThrough opens a WebSocket connection through the proxy to /path,
// aborted at the end of the test.
func dialThrough(t *testing.T, px *serveProc, path string, opts *ws.DialOptions) *ws.Conn {
	t.Helper()
	if opts == nil {
		opts = &ws.DialOptions{}
	}
	if strings.HasPrefix(px.url, "wss:") && opts.TLSConfig == nil && opts.TLSClient == nil {
		opts.TLSConfig = devRoots(t)
	}
	scheme := "ws://"
	if strings.HasPrefix(px.url, "wss:") {
		scheme = "wss://"
	}
	url := scheme + px.addr + "/" + path
	c, _, err := ws.Dial(testpeer.Context(t, waitTimeout), url, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(c.Abort)
	return c
}

// expectUpstreamLost dials path through px, whose upstream fails the
// connection, while a steady connection runs: the client must get 1014,
// the close line must blame the upstream, and the steady connection must
// be unaffected.
func expectUpstreamLost(t *testing.T, px *serveProc, path string) {
	t.Helper()
	st := startSteady(t, px)
	c := dialThrough(t, px, path, nil)
	if code, reason := readClose(t, c); code != ws.StatusBadGateway {
		t.Errorf("client got %d %q, want 1014", code, reason)
	} else {
		t.Logf("client got %d %q", code, reason)
	}
	closedLog(t, px, c, "upstream")
	st.check(t)
}

// readClose reads (and drops) messages until the connection ends and
// returns the close code and reason received: 1006 and the error when it
// ended without a close frame.
func readClose(t *testing.T, c *ws.Conn) (ws.StatusCode, string) {
	t.Helper()
	ctx := testpeer.Context(t, waitTimeout)
	code, reason, err := closeOf(ctx, c)
	if ctx.Err() != nil {
		t.Fatalf("the connection did not end within %v", waitTimeout)
	}
	if code == ws.StatusAbnormalClosure {
		reason = err.Error()
	}
	return code, reason
}

// closeOf reads (and drops) messages until c ends and returns the close
// code and reason received (1006 when none) with the read's error.
func closeOf(ctx context.Context, c *ws.Conn) (ws.StatusCode, string, error) {
	for {
		_, _, err := c.ReadMessage(ctx)
		if err == nil {
			continue
		}
		var ce *ws.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Reason, err
		}
		return ws.StatusAbnormalClosure, "", err
	}
}

// steady is a connection kept busy through the proxy while a fault
// happens on another one: a checked round trip every 50ms (its reads also
// answer the proxy's keepalive pings).
type steady struct {
	c      *ws.Conn
	stop   chan struct{}
	once   sync.Once
	done   chan error
	rounds atomic.Int64
}

// startSteady opens it (to path /steady of px, which the upstream must
// echo) after a first round trip.
func startSteady(t *testing.T, px *serveProc) *steady {
	t.Helper()
	s := &steady{c: dialThrough(t, px, "steady", nil), stop: make(chan struct{}), done: make(chan error, 1)}
	if err := s.roundTrip(0); err != nil {
		t.Fatalf("connection to /steady: %v", err)
	}
	go func() {
		for i := 1; ; i++ {
			select {
			case <-s.stop:
				s.done <- nil
				return
			case <-time.After(50 * time.Millisecond):
			}
			if err := s.roundTrip(i); err != nil {
				s.done <- err
				return
			}
		}
	}()
	t.Cleanup(func() { s.once.Do(func() { close(s.stop) }); s.c.Abort(); <-s.done; s.done <- nil })
	return s
}

func (s *steady) roundTrip(i int) error {
	msg := fmt.Sprintf("steady %d ✓", i)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.c.WriteMessage(ctx, ws.MessageText, []byte(msg))
	var got []byte
	if err == nil {
		_, got, err = s.c.ReadMessage(ctx)
	}
	if err == nil && string(got) != msg {
		err = fmt.Errorf("sent %q, got back %q", msg, got)
	}
	if err == nil {
		s.rounds.Add(1)
	}
	return err
}

// check stops the round trips, requires that they all succeeded and that
// one more does, and closes the connection with 1000, answered with 1000
// end to end.
func (s *steady) check(t *testing.T) {
	t.Helper()
	s.once.Do(func() { close(s.stop) })
	err := <-s.done
	s.done <- nil // for the cleanup
	if err == nil {
		err = s.roundTrip(-1)
	}
	if err != nil {
		t.Errorf("a connection open at the same time was affected after %d round trips: %v", s.rounds.Load(), err)
		return
	}
	if err := s.c.Close(ws.StatusNormalClosure, "steady done"); err != nil {
		t.Errorf("closing the connection open at the same time: %v", err)
	}
	if code, reason := s.c.CloseStatus(); code != ws.StatusNormalClosure {
		t.Errorf("the connection open at the same time closed with %d %q, want 1000", code, reason)
	}
}

// logLine is one JSON line of serve's log.
type logLine map[string]any

// str returns a field as a string ("" when absent).
func (l logLine) str(key string) string {
	v, ok := l[key]
	if !ok {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// waitLog waits until the process logged (stderr, JSON) a line for which
// match is true, and returns it.
func (p *proc) waitLog(t *testing.T, what string, match func(logLine) bool) logLine {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		for _, l := range strings.Split(p.stderr.String(), "\n") {
			var m logLine
			if json.Unmarshal([]byte(l), &m) == nil && match(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s logged no %s within %v", p.name, what, waitTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// closedLog waits for serve's "connection closed" line of the client
// connection c and checks it has a cause, naming cause.
func closedLog(t *testing.T, px *serveProc, c *ws.Conn, cause string) logLine {
	t.Helper()
	peer := c.LocalAddr().String()
	l := px.waitLog(t, "connection closed line for "+peer, func(l logLine) bool {
		return l.str("message") == "connection closed" && l.str("peer") == peer
	})
	if c := l.str("cause"); c == "" || !strings.Contains(c, cause) {
		t.Errorf("log line %v: cause %q, want it to name %q", l, l.str("cause"), cause)
	}
	return l
}

// noLeaks fails the test if goroutines started during it outlive it
// (checked after every other cleanup). Only for tests that do not run
// in parallel: the others' goroutines would count.
func noLeaks(t *testing.T) {
	t.Helper()
	current := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, current) })
}

// drain reads nc until it ends (the proxy closed or aborted it).
func drain(nc net.Conn) { _, _ = io.Copy(io.Discard, nc) }
