package echo_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/ws"
	"github.com/wssproxy/wssproxy/ws/echo"
)

// A client that sends its handshake and half-closes is accepted, by the
// echo server and by ws.Accept. net/http cancels the request's context
// once it reads the end of the stream, and the handshake used to be
// answered under that context: Accept failed, and the 101 went out or not
// depending on which came first (CI saw status 0 in TestBadUpgradeCorpus).
// The wrapper makes the cancel come first.
func TestHalfClosedClientIsAccepted(t *testing.T) {
	var mu sync.Mutex
	var logged bytes.Buffer
	echoH := &echo.Handler{Logger: zerolog.New(zerolog.SyncWriter(lockedWriter{&mu, &logged})).Level(zerolog.DebugLevel)}
	wsAccept := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := ws.Accept(w, r, nil)
		if err != nil {
			t.Errorf("ws.Accept: %v", err)
			return
		}
		c.Abort()
	})
	for name, h := range map[string]http.Handler{"echo.Handler": echoH, "ws.Accept": wsAccept} {
		t.Run(name, func(t *testing.T) { acceptsHalfClosed(t, h) })
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logged.String(), "refused") {
		t.Errorf("the echo server refused the handshake: %s", logged.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// acceptsHalfClosed serves h, sends a handshake and half-closes, checks
// the answer is 101 and waits for h to return.
func acceptsHalfClosed(t *testing.T, h http.Handler) {
	served := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(served)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
			t.Error("net/http did not cancel the request's context on the client's half-close")
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()

	nc, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	const req = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatal(err)
	}
	if err := nc.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatalf("no answer to a complete handshake: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler did not return after the client's end of stream")
	}
}
