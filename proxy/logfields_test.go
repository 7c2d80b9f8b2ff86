package proxy

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/internal/testpeer/devpki"
	"github.com/wssproxy/wssproxy/tlsconf/psk"
	"github.com/wssproxy/wssproxy/ws"
)

// syncBuffer is a buffer safe for the Server's goroutines.
type syncBuffer struct{ testpeer.Buffer }

// lines returns the JSON log lines written so far.
func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// waitLine waits until a line with that message was logged.
func (s *syncBuffer) waitLine(t *testing.T, msg string) map[string]any {
	t.Helper()
	var found map[string]any
	waitFor(t, "log line "+msg, func() bool {
		for _, l := range s.lines(t) {
			if l["message"] == msg {
				found = l
				return true
			}
		}
		return false
	})
	return found
}

// Durations in log lines are seconds, named *_seconds like the admin
// API's duration_seconds (the close line said "duration", in
// milliseconds without saying so).
func TestLogDurationsInSeconds(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	base, _ := startEchoProxy(t, Options{Logger: zerolog.New(&logs)})
	c := dial(t, base+"/", nil)
	time.Sleep(20 * time.Millisecond)
	if err := c.Close(ws.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	l := logs.waitLine(t, "connection closed")
	d, ok := l["duration_seconds"].(float64)
	if !ok || d < 0.02 || d > 10 {
		t.Errorf("connection closed: duration_seconds %v (%T), want the connection's life in seconds: %v", l["duration_seconds"], l["duration_seconds"], l)
	}
	for k := range l {
		if strings.Contains(k, "duration") && k != "duration_seconds" {
			t.Errorf("connection closed: field %q besides duration_seconds", k)
		}
	}
}

// A client whose TLS handshake fails is logged at info with the cause
// (a device with a wrong PSK key showed only at debug); a connection
// closed before sending a byte (a TCP health check, a port scan) stays
// at debug.
func TestClientHandshakeFailureLoggedAtInfo(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	up := startUpstream(t, nil, echoHandle)
	pki := devpki.New(t)
	base, _ := startProxyTLS(t, Options{
		TLS: serverTLS(t, pki), PSK: pskServerConfig(),
		Routes: []Route{{Upstream: up.url()}},
		Logger: zerolog.New(&logs).Level(zerolog.InfoLevel),
	})
	wrong := &psk.ClientConfig{Identity: []byte("device-1"), Key: []byte("wrong-key-wrong-key-wrong-key-00")}
	if _, _, err := ws.Dial(ctxT(t), base, &ws.DialOptions{TLSClient: wrong.TLSClient}); err == nil {
		t.Fatal("a wrong PSK key was accepted")
	}
	l := logs.waitLine(t, "client TLS handshake failed")
	if l["level"] != "info" || l["error"] == nil || l["peer"] == nil {
		t.Errorf("wrong PSK key: %v, want an info line with the error and the peer", l)
	}
	t.Logf("wrong PSK key: %v", l)

	// TCP connect and close without a byte: nothing at info.
	nc, err := net.Dial("tcp", strings.TrimPrefix(base, "wss://"))
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	time.Sleep(100 * time.Millisecond)
	n := 0
	for _, l := range logs.lines(t) {
		if l["message"] == "client TLS handshake failed" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d handshake failure lines at info after a bare TCP connect, want 1 (the wrong key's)", n)
	}
}
