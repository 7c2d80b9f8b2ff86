package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// TestEchoHandshakeTimeout: "wssproxy echo" cuts a client that trickles
// its upgrade request (a slowloris) at --handshake-timeout; it used to
// keep it for 30 s. A prompt client is still served meanwhile.
func TestEchoHandshakeTimeout(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, done := startEchoCmd(ctx, t, "--handshake-timeout", "300ms")
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/")
	slowloris := testpeer.Dribble([]byte("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nX-Pad: " + strings.Repeat("a", 2000)))
	testpeer.CutWithin(t, addr, 2*time.Second, slowloris)
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("echo did not stop")
	}
}

func TestEchoHandshakeTimeoutFlag(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"echo", "--handshake-timeout", "0s"}, &out, &out); code != 2 || !strings.Contains(out.String(), "--handshake-timeout must be positive") {
		t.Fatalf("exit %d: %q", code, out.String())
	}
	out.Reset()
	if run(context.Background(), []string{"echo", "--help"}, &out, &out) != 0 || !strings.Contains(out.String(), "-handshake-timeout") {
		t.Fatalf("echo --help: %q", out.String())
	}
}
