package ws_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/wssproxy/wssproxy/ws"
	"github.com/wssproxy/wssproxy/ws/echo"
)

// Dial a server, send a text message, read the echo, and close with a
// code and reason.
func ExampleDial() {
	srv := httptest.NewServer(&echo.Handler{})
	defer srv.Close()
	ctx := context.Background()

	c, _, err := ws.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/chat", &ws.DialOptions{
		Header: http.Header{"Origin": {"https://example.com"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := c.WriteMessage(ctx, ws.MessageText, []byte("hello")); err != nil {
		fmt.Println(err)
		return
	}
	typ, msg, err := c.ReadMessage(ctx)
	fmt.Println(typ, string(msg), err)

	err = c.Close(ws.StatusNormalClosure, "bye")
	code, reason := c.CloseStatus()
	fmt.Println(err, code, reason)
	// Output:
	// text hello <nil>
	// <nil> 1000 (normal closure) bye
}

// Accept upgrades requests of a net/http server.
func ExampleAccept() {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := ws.Accept(w, r, &ws.AcceptOptions{Subprotocols: []string{"chat.v1"}})
		if err != nil {
			return // Accept answered the bad request already
		}
		defer c.Abort()
		typ, msg, err := c.ReadMessage(r.Context())
		if err != nil {
			return
		}
		c.WriteMessage(r.Context(), typ, []byte(strings.ToUpper(string(msg))))
		c.Close(ws.StatusGoingAway, "done")
	})
	srv := httptest.NewServer(handler)
	defer srv.Close()

	ctx := context.Background()
	c, _, err := ws.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &ws.DialOptions{Subprotocols: []string{"chat.v1"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	c.WriteMessage(ctx, ws.MessageText, []byte("shout"))
	_, msg, _ := c.ReadMessage(ctx)
	_, _, err = c.ReadMessage(ctx)
	fmt.Println(c.Subprotocol(), string(msg), err)
	// Output:
	// chat.v1 SHOUT ws: closed with 1001 (going away): "done"
}

// Run delivers what arrives to Qt-style signal callbacks.
func ExampleConn_Run() {
	srv := httptest.NewServer(&echo.Handler{})
	defer srv.Close()
	ctx := context.Background()

	var c *ws.Conn
	opts := &ws.DialOptions{Options: ws.Options{Events: ws.Events{
		OnTextMessage: func(msg string) {
			fmt.Println("textMessageReceived:", msg)
			c.Close(ws.StatusNormalClosure, "")
		},
		OnPong:         func(elapsed time.Duration, payload []byte) { fmt.Println("pong:", string(payload)) },
		OnDisconnected: func() { fmt.Println("disconnected") },
	}}}
	c, _, err := ws.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	c.Ping(ctx, []byte("token"))
	c.WriteMessage(ctx, ws.MessageText, []byte("hi"))
	fmt.Println(c.Run(ctx))
	// Output:
	// pong: token
	// textMessageReceived: hi
	// disconnected
	// ws: closed with 1000 (normal closure)
}

// NextFrame streams frames with their header, as a relay needs them:
// opcode, FIN and reserved bits, and a payload reader that never buffers
// the whole frame.
func ExampleConn_NextFrame() {
	ctx := context.Background()
	c, stop, err := dialEcho(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	c.WriteMessage(ctx, ws.MessageBinary, make([]byte, 100000))
	h, payload, err := c.NextFrame(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	n, _ := io.Copy(io.Discard, payload)
	fmt.Println(h.OpCode, h.Fin, h.Length, n)
	// Output:
	// binary true 100000 100000
}

// ReadUpgrade reads a handshake from a raw connection without answering
// it; the server then picks the connection's options (here by path) and
// answers with Upgrade.Accept.
func ExampleReadUpgrade() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		ctx := context.Background()
		u, err := ws.ReadUpgrade(ctx, nc, nil)
		if err != nil {
			return // answered and closed already
		}
		opts := &ws.Options{MaxIncomingMessageSize: 1 << 10}
		if u.Request.URL.Path == "/bulk" {
			opts.MaxIncomingMessageSize = 64 << 20
		}
		c, err := u.Accept(ctx, u.SelectSubprotocol(), "", opts)
		if err != nil {
			return
		}
		_ = echo.Serve(ctx, c)
	}()

	ctx := context.Background()
	c, _, err := ws.Dial(ctx, "ws://"+ln.Addr().String()+"/small", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Abort()
	c.WriteMessage(ctx, ws.MessageBinary, make([]byte, 2<<10))
	_, _, err = c.ReadMessage(ctx)
	var ce *ws.CloseError
	fmt.Println(errors.As(err, &ce), ce.Code)
	// Output:
	// true 1009 (message too big)
}

// CloseContext bounds the closing handshake by a context as well as by
// Options.CloseTimeout: a peer that does not answer in time is cut off.
func ExampleConn_CloseContext() {
	c, stop, err := dialEcho(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	fmt.Println(c.CloseContext(ctx, ws.StatusGoingAway, "shutting down"))
	fmt.Println(c.CloseStatus())
	// Output:
	// <nil>
	// 1001 (going away) shutting down
}

// dialEcho connects to a new in-process echo server (ws/echo), for the
// examples of a connection's methods; stop aborts the connection and
// stops the server.
func dialEcho(ctx context.Context) (c *ws.Conn, stop func(), err error) {
	srv := httptest.NewServer(&echo.Handler{})
	c, _, err = ws.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	return c, func() { c.Abort(); srv.Close() }, nil
}

// A command line checks a header name before dialing, as Dial would.
func ExampleIsToken() {
	fmt.Println(ws.IsToken("X-Request-Id"), ws.IsToken("X A"), ws.IsToken(""))
	// Output: true false false
}
