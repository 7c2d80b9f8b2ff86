package echo_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/ws"
	"github.com/wssproxy/wssproxy/ws/echo"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// TestServerShutdown: Shutdown closes open connections with the given
// code, joins the serving goroutine and reports no error.
func TestServerShutdown(t *testing.T) {
	s := echo.Start(listen(t), nil, nil)
	ctx := t.Context()
	c, _, err := ws.Dial(ctx, "ws://"+s.Addr().String()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort()
	testpeer.Echo(ctx, t, c, ws.MessageText, "hi")
	read := make(chan error, 1)
	go func() {
		_, _, err := c.ReadMessage(ctx)
		read <- err
	}()
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.Shutdown(sctx, ws.StatusGoingAway, "bye"); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Shutdown returned before the serving goroutine")
	}
	var ce *ws.CloseError
	if err := <-read; !errors.As(err, &ce) || ce.Code != ws.StatusGoingAway {
		t.Fatalf("client got %v, want 1001", err)
	}
}

// failingListener fails Accept with a permanent error.
type failingListener struct {
	net.Listener
}

var errBroken = errors.New("listener broken")

func (failingListener) Accept() (net.Conn, error) { return nil, errBroken }

// TestServerSurfacesServeError: a listener failure stops serving and is
// reported by Done/Err and by Shutdown, never dropped.
func TestServerSurfacesServeError(t *testing.T) {
	ln := listen(t)
	defer ln.Close()
	s := echo.Start(failingListener{ln}, nil, nil)
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("serving did not stop on a failed listener")
	}
	if err := s.Err(); !errors.Is(err, errBroken) {
		t.Fatalf("Err() = %v", err)
	}
	if err := s.Shutdown(t.Context(), ws.StatusGoingAway, ""); !errors.Is(err, errBroken) {
		t.Fatalf("Shutdown() = %v", err)
	}
}

// TestServerHandshakeTimeout: a slowloris (header one byte at a time), a
// silent client, a client idling after a refused request and a client
// that never starts its TLS handshake are all cut at HandshakeTimeout.
func TestServerHandshakeTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	limit := timeout + 1500*time.Millisecond
	dribble := func() func(net.Conn) {
		return testpeer.Dribble([]byte("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nX-Pad: " + strings.Repeat("a", 1000)))
	}
	idle := func(nc net.Conn) { time.Sleep(20 * time.Millisecond) }
	refusedThenIdle := func() func(net.Conn) {
		sent := false
		return func(nc net.Conn) {
			if !sent {
				_, _ = nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")) // no upgrade: refused, kept alive
				sent = true
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	s := echo.Start(listen(t), nil, &echo.ServerOptions{HandshakeTimeout: timeout})
	defer s.Shutdown(t.Context(), ws.StatusGoingAway, "")
	addr := s.Addr().String()
	t.Run("slowloris", func(t *testing.T) { testpeer.CutWithin(t, addr, limit, dribble()) })
	t.Run("silent", func(t *testing.T) { testpeer.CutWithin(t, addr, limit, idle) })
	t.Run("idle after a refused request", func(t *testing.T) { testpeer.CutWithin(t, addr, limit, refusedThenIdle()) })

	ts := echo.Start(listen(t), nil, &echo.ServerOptions{HandshakeTimeout: timeout, TLSConfig: selfSigned(t)})
	defer ts.Shutdown(t.Context(), ws.StatusGoingAway, "")
	t.Run("no TLS handshake", func(t *testing.T) { testpeer.CutWithin(t, ts.Addr().String(), limit, idle) })

	// The server still serves a prompt client.
	c, _, err := ws.Dial(t.Context(), "ws://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Abort()
}

func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	cert, _ := testpeer.SelfSigned(t, "localhost")
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}

// A connection upgraded after CloseAll started gets CloseAll's code and
// reason, like the connections that were open, not a bare TCP close
// (regression: it was aborted, and a client racing a shutdown saw 1006).
func TestUpgradeAfterCloseAllGetsItsCode(t *testing.T) {
	h := &echo.Handler{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.CloseAll(ctx, ws.StatusGoingAway, "shutting down"); err != nil {
		t.Fatal(err)
	}
	c, _, err := ws.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort()
	_, _, err = c.ReadMessage(ctx)
	var ce *ws.CloseError
	if !errors.As(err, &ce) || ce.Code != ws.StatusGoingAway || ce.Reason != "shutting down" {
		t.Fatalf("got %v, want 1001 \"shutting down\"", err)
	}
}
