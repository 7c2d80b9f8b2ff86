package ws_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/ws"
)

// ErrClosed wraps net.ErrClosed, so code written for net.Conn recognises
// a closed WebSocket connection.
func TestErrClosedIsNetErrClosed(t *testing.T) {
	t.Parallel()
	if !errors.Is(ws.ErrClosed, net.ErrClosed) {
		t.Fatal("ws.ErrClosed does not wrap net.ErrClosed")
	}
	client, server := pair(t, nil, nil)
	go func() { _, _, _ = server.ReadMessage(ctxT(t)) }()
	if err := client.Close(ws.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	err := client.WriteMessage(ctxT(t), ws.MessageText, []byte("late"))
	if !errors.Is(err, ws.ErrClosed) || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v, want ws.ErrClosed and net.ErrClosed", err)
	}
	if err := client.Close(ws.StatusNormalClosure, ""); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
}

// CloseContext completes a handshake the peer answers, and is cut short
// by its context when the peer never answers: the connection is closed at
// once with 1006, well before Options.CloseTimeout.
func TestCloseContext(t *testing.T) {
	t.Parallel()
	t.Run("answered", func(t *testing.T) {
		t.Parallel()
		client, server := pair(t, nil, nil)
		go func() { _, _, _ = server.ReadMessage(ctxT(t)) }()
		if err := client.CloseContext(ctxT(t), ws.StatusNormalClosure, "bye"); err != nil {
			t.Fatal(err)
		}
		if code, reason := server.CloseStatus(); code != ws.StatusNormalClosure || reason != "bye" {
			t.Fatalf("server saw %v %q", code, reason)
		}
	})
	t.Run("peer silent", func(t *testing.T) {
		t.Parallel()
		p, c := rawServer(t, &ws.DialOptions{Options: ws.Options{CloseTimeout: time.Minute}})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := c.CloseContext(ctx, ws.StatusGoingAway, "leaving")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("CloseContext = %v, want the context's deadline", err)
		}
		wantCloseError(t, err, ws.StatusAbnormalClosure)
		if d := time.Since(start); d > 30*time.Second {
			t.Fatalf("CloseContext took %v: the close timeout, not the context, ended it", d)
		}
		select {
		case <-c.Done():
		default:
			t.Fatal("connection still open after CloseContext returned")
		}
		if code, _ := c.CloseStatus(); code != ws.StatusAbnormalClosure {
			t.Fatalf("CloseStatus %v", code)
		}
		if got := p.expectClose(); got != ws.StatusGoingAway {
			t.Fatalf("peer saw close %v", got)
		}
	})
	t.Run("closed already", func(t *testing.T) {
		t.Parallel()
		_, c := rawServer(t, nil)
		c.Abort()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := c.CloseContext(ctx, ws.StatusNormalClosure, ""); !errors.Is(err, ws.ErrClosed) {
			t.Fatalf("CloseContext on an aborted connection: %v", err)
		}
	})
}

// Upgrade.Accept configures the connection with the options it is given
// (nil: AcceptOptions.Options), and its context bounds the answer.
func TestUpgradeAcceptOptionsAndContext(t *testing.T) {
	t.Parallel()
	accept := func(t *testing.T, ctx context.Context, opts *ws.Options) (*ws.Conn, *rawPeer, error) {
		t.Helper()
		a, b := testpeer.TCPPair(t)
		ch := acceptAsync(ctxT(t), b, &ws.AcceptOptions{Options: ws.Options{MaxIncomingMessageSize: 8}}, func(u *ws.Upgrade) (*ws.Conn, error) {
			return u.Accept(ctx, "", "", opts)
		})
		fmt.Fprintf(a, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
		r := <-ch
		if r.c != nil {
			t.Cleanup(r.c.Abort)
		}
		return r.c, &rawPeer{t: t, nc: a, client: true}, r.err
	}
	readLimit := func(t *testing.T, c *ws.Conn, p *rawPeer) error {
		t.Helper()
		p.br = newReaderAfter101(t, p)
		p.send(0x82, make([]byte, 16))
		_, _, err := c.ReadMessage(ctxT(t))
		return err
	}

	c, p, err := accept(t, ctxT(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantProtocolError(t, readLimit(t, c, p), ws.StatusMessageTooBig) // AcceptOptions' limit of 8

	c, p, err = accept(t, ctxT(t), &ws.Options{MaxIncomingMessageSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	if err := readLimit(t, c, p); err != nil {
		t.Fatalf("16 bytes under the argument's limit of 64: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if c, _, err := accept(t, ctx, nil); !errors.Is(err, context.Canceled) || c != nil {
		t.Fatalf("Accept with a cancelled context: %v, %v", c, err)
	}
}

// newReaderAfter101 reads the 101 answer from a raw client and returns
// the reader positioned after it.
func newReaderAfter101(t *testing.T, p *rawPeer) *bufio.Reader {
	t.Helper()
	br := bufio.NewReader(p.nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake answer: %v %v", resp, err)
	}
	return br
}
