package ws_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/ws"
)

// Bad URLs and headers are refused before any byte reaches the network.
func TestDialRefusesInjection(t *testing.T) {
	t.Parallel()
	var dials atomic.Int32
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return nil, errors.New("must not dial")
	}
	cases := []struct {
		url    string
		header http.Header
		sub    []string
	}{
		{url: "ws://host/a\r\nX-Injected: 1"},
		{url: "ws://host/a\nb"},
		{url: "ws://host/a\x00b"},
		{url: "ws://host/", header: http.Header{"X-A": {"v\r\nX-Injected: 1"}}},
		{url: "ws://host/", header: http.Header{"X-A": {"v\x00"}}},
		{url: "ws://host/", header: http.Header{"X-A": {"v\n"}}},
		{url: "ws://host/", header: http.Header{"Bad Name": {"v"}}},
		{url: "ws://host/", header: http.Header{"Sec-WebSocket-Key": {"x"}}},
		{url: "ws://host/", sub: []string{"chat\r\n"}},
		{url: "http://host/"},
		{url: "ws:///nohost"},
		{url: "ws://host/#frag"},
		{url: "ws://user:pw@host/"},
	}
	for _, tc := range cases {
		_, _, err := ws.Dial(context.Background(), tc.url, &ws.DialOptions{Header: tc.header, Subprotocols: tc.sub, NetDial: dial})
		if !errors.Is(err, ws.ErrBadHandshake) {
			t.Errorf("%q %v %v: got %v, want ErrBadHandshake", tc.url, tc.header, tc.sub, err)
		}
	}
	if dials.Load() != 0 {
		t.Fatalf("%d dials happened for refused input", dials.Load())
	}
}

func TestAcceptRejections(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := ws.Accept(w, r, &ws.AcceptOptions{CheckOrigin: func(r *http.Request) error {
			if o := r.Header.Get("Origin"); o != "" && o != "https://good.example" {
				return fmt.Errorf("origin %q not allowed", o)
			}
			return nil
		}})
		if err == nil {
			c.Abort()
		}
	}))
	defer srv.Close()
	good := map[string]string{
		"Connection": "keep-alive, Upgrade", "Upgrade": "websocket",
		"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
	}
	cases := []struct {
		name   string
		method string
		change map[string]string
		status int
	}{
		{"valid", "GET", nil, 101},
		{"POST", "POST", nil, 405},
		{"no upgrade token", "GET", map[string]string{"Connection": "keep-alive"}, 426},
		{"wrong upgrade", "GET", map[string]string{"Upgrade": "h2c"}, 426},
		{"version 8", "GET", map[string]string{"Sec-WebSocket-Version": "8"}, 426},
		{"no key", "GET", map[string]string{"Sec-WebSocket-Key": ""}, 400},
		{"short key", "GET", map[string]string{"Sec-WebSocket-Key": "c2hvcnQ="}, 400},
		{"bad origin", "GET", map[string]string{"Origin": "https://evil.example"}, 403},
		{"good origin", "GET", map[string]string{"Origin": "https://good.example"}, 101},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, srv.URL, nil)
		for k, v := range good {
			req.Header.Set(k, v)
		}
		for k, v := range tc.change {
			if v == "" {
				req.Header.Del(k)
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
		if tc.status == 426 && tc.name == "version 8" && resp.Header.Get("Sec-WebSocket-Version") != "13" {
			t.Errorf("426 without Sec-WebSocket-Version: 13")
		}
	}
}

func TestReadUpgradeLimits(t *testing.T) {
	t.Parallel()
	t.Run("header too large", func(t *testing.T) {
		t.Parallel()
		a, b := testpeer.TCPPair(t)
		errc := make(chan error, 1)
		go func() {
			_, err := ws.ReadUpgrade(context.Background(), b, &ws.AcceptOptions{MaxHeaderBytes: 1024})
			errc <- err
		}()
		go fmt.Fprintf(a, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 4096))
		resp, err := http.ReadResponse(bufio.NewReader(a), nil)
		if err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("%v %v", resp, err)
		}
		var herr *ws.HandshakeError
		if err := <-errc; !errors.As(err, &herr) || herr.Status != 431 {
			t.Fatalf("ReadUpgrade: %v", err)
		}
	})
	t.Run("slow request times out", func(t *testing.T) {
		t.Parallel()
		a, b := testpeer.TCPPair(t)
		fmt.Fprintf(a, "GET / HTTP/1.1\r\nHo") // and nothing more
		start := time.Now()
		_, err := ws.ReadUpgrade(context.Background(), b, &ws.AcceptOptions{HandshakeTimeout: 100 * time.Millisecond})
		if !errors.Is(err, ws.ErrBadHandshake) || time.Since(start) > 5*time.Second {
			t.Fatalf("%v after %v", err, time.Since(start))
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		t.Parallel()
		_, b := testpeer.TCPPair(t)
		ctx, cancel := context.WithCancel(context.Background())
		go func() { time.Sleep(50 * time.Millisecond); cancel() }()
		_, err := ws.ReadUpgrade(ctx, b, nil)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("HTTP/1.0", func(t *testing.T) {
		t.Parallel()
		a, b := testpeer.TCPPair(t)
		go fmt.Fprintf(a, "GET / HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
		_, err := ws.ReadUpgrade(context.Background(), b, nil)
		var herr *ws.HandshakeError
		if !errors.As(err, &herr) || herr.Status != 400 {
			t.Fatalf("%v", err)
		}
	})
}

func TestSubprotocolNegotiation(t *testing.T) {
	t.Parallel()
	c, s := pair(t, &ws.AcceptOptions{Subprotocols: []string{"v2.chat", "v1.chat"}},
		&ws.DialOptions{Subprotocols: []string{"v1.chat", "v2.chat"}, Header: http.Header{"Origin": {"https://o.example"}}})
	if c.Subprotocol() != "v2.chat" || s.Subprotocol() != "v2.chat" {
		t.Fatalf("client %q server %q", c.Subprotocol(), s.Subprotocol())
	}
	if s.Request().Header.Get("Origin") != "https://o.example" {
		t.Fatal("extra header not sent")
	}
	c2, _ := pair(t, &ws.AcceptOptions{Subprotocols: []string{"other"}}, &ws.DialOptions{Subprotocols: []string{"v1.chat"}})
	if c2.Subprotocol() != "" {
		t.Fatalf("no common subprotocol, got %q", c2.Subprotocol())
	}
}

// respond dials a server that reads the request and writes what answer
// makes of its key (then reads until the client gives up), and returns
// Dial's error.
func respond(t *testing.T, answer func(key string) string, opts *ws.DialOptions) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		req, err := http.ReadRequest(bufio.NewReader(nc))
		if err != nil {
			return
		}
		io.WriteString(nc, answer(req.Header.Get("Sec-WebSocket-Key")))
		io.Copy(io.Discard, nc) // until the client gives up
	}()
	c, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/", opts)
	if err == nil {
		c.Abort()
	}
	return err
}

func TestDialChecksResponse(t *testing.T) {
	t.Parallel()
	ok := func(key string) string {
		return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + ws.AcceptKey(key) + "\r\n"
	}
	cases := []struct {
		name   string
		answer func(string) string
		opts   *ws.DialOptions
		status int
	}{
		{"refused with 403", func(string) string {
			return "HTTP/1.1 403 Forbidden\r\nContent-Length: 7\r\n\r\nno way\n"
		}, nil, 403},
		{"wrong accept", func(string) string { return ok("other") + "\r\n" }, nil, 101},
		{"no upgrade header", func(k string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + ws.AcceptKey(k) + "\r\n\r\n"
		}, nil, 101},
		{"unoffered subprotocol", func(k string) string { return ok(k) + "Sec-WebSocket-Protocol: x\r\n\r\n" }, nil, 101},
		{"unoffered extension", func(k string) string { return ok(k) + "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n" }, nil, 101},
		{"huge response head", func(k string) string { return ok(k) + "X: " + strings.Repeat("a", 64<<10) + "\r\n\r\n" }, nil, 0},
	}
	for _, tc := range cases {
		err := respond(t, tc.answer, tc.opts)
		if !errors.Is(err, ws.ErrBadHandshake) {
			t.Errorf("%s: got %v", tc.name, err)
			continue
		}
		var herr *ws.HandshakeError
		if tc.status != 0 && (!errors.As(err, &herr) || herr.Status != tc.status) {
			t.Errorf("%s: got %v, want status %d", tc.name, err, tc.status)
		}
	}
}

func TestDialTimeout(t *testing.T) {
	t.Parallel()
	start := time.Now()
	never := func(string) string { return "" } // reads the request, never answers
	err := respond(t, never, &ws.DialOptions{HandshakeTimeout: 100 * time.Millisecond})
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("%v after %v", err, time.Since(start))
	}
}

// With DiscardHandshake, neither side keeps the opening handshake once the
// connection is open; the connection works as before. Without it, both
// are kept.
func TestDiscardHandshake(t *testing.T) {
	t.Parallel()
	for _, discard := range []bool{false, true} {
		opts := ws.Options{DiscardHandshake: discard}
		client, server := pair(t, &ws.AcceptOptions{Options: opts}, &ws.DialOptions{Options: opts})
		kept := client.Request() != nil && client.Response() != nil && server.Request() != nil
		gone := client.Request() == nil && client.Response() == nil && server.Request() == nil
		if discard && !gone || !discard && !kept {
			t.Fatalf("DiscardHandshake %v: client request %v, response %v, server request %v", discard,
				client.Request() != nil, client.Response() != nil, server.Request() != nil)
		}
		if server.URL() == nil || client.URL() == nil {
			t.Fatal("URL lost with the handshake")
		}
		if err := client.WriteMessage(ctxT(t), ws.MessageText, []byte("still works")); err != nil {
			t.Fatal(err)
		}
		if _, got, err := server.ReadMessage(ctxT(t)); err != nil || string(got) != "still works" {
			t.Fatalf("got %q, %v", got, err)
		}
		client.Abort()
		server.Abort()
	}
}

// A refused handshake gives its read buffer back to the pool: refusing
// 200 requests (read whole from memory) allocates far less than one
// 32 KiB buffer each. Before, every refusal dropped its buffer to the GC,
// about 37 KiB per request.
func TestRejectReturnsReadBuffer(t *testing.T) {
	req := []byte("GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	refuse := func() {
		u, err := ws.ReadUpgrade(context.Background(), &fakeConn{head: req}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := u.Reject(http.StatusNotFound, "no route"); err != nil {
			t.Fatal(err)
		}
	}
	refuse() // the pool holds a buffer now
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 200
	for range n {
		refuse()
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 16<<10 {
		t.Fatalf("a refused handshake allocated %d bytes, want under 16 KiB (its 32 KiB read buffer back in the pool)", per)
	}
}
