package ws_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/ws"
)

// WatchPeer reports a client that hangs up before its answer, keeps the
// bytes a client pipelines behind its request, and reports nothing when
// stopped.
func TestWatchPeer(t *testing.T) {
	t.Parallel()
	start := func(t *testing.T) (*rawPeer, *ws.Upgrade) {
		a, b := testpeer.TCPPair(t)
		fmt.Fprintf(a, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
		u, err := ws.ReadUpgrade(ctxT(t), b, nil)
		if err != nil {
			t.Fatal(err)
		}
		return &rawPeer{t: t, nc: a, client: true}, u
	}
	t.Run("hang-up", func(t *testing.T) {
		t.Parallel()
		peer, u := start(t)
		gone := make(chan error, 1)
		stop := u.WatchPeer(time.Now().Add(10*time.Second), func(err error) { gone <- err })
		defer stop()
		peer.nc.Close()
		if err := testpeer.Receive(t, gone, 5*time.Second, "a client that hung up was not reported"); !errors.Is(err, io.EOF) {
			t.Fatalf("gone with %v, want EOF", err)
		}
	})
	t.Run("pipelined bytes are kept", func(t *testing.T) {
		t.Parallel()
		peer, u := start(t)
		stop := u.WatchPeer(time.Now().Add(10*time.Second), func(err error) { t.Errorf("gone: %v", err) })
		peer.send(0x81, []byte("early"))
		time.Sleep(100 * time.Millisecond) // let the watch buffer the frame
		stop()
		c, err := u.Accept(ctxT(t), "", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Abort()
		_, p, err := c.ReadMessage(context.Background())
		if err != nil || string(p) != "early" {
			t.Fatalf("got %q, %v", p, err)
		}
	})
	t.Run("stopped quietly", func(t *testing.T) {
		t.Parallel()
		_, u := start(t)
		stop := u.WatchPeer(time.Now().Add(10*time.Second), func(err error) { t.Errorf("gone: %v", err) })
		stop()
		_ = u.Reject(503, "busy")
	})
}
