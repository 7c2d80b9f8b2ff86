package proxy

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/ws"
)

const handshake = "GET /p HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"

// rawDial sends raw bytes to the proxy and returns the HTTP answer.
func rawDial(t *testing.T, base string, prefix []byte, request string) (*http.Response, net.Conn) {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(base, "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.Write(prefix)
	io.WriteString(nc, request)
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	resp.Body.Close()
	return resp, nc
}

func TestProxyProtocol(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, nil, echoHandle)
	trusted, _ := startProxy(t, Options{
		Routes:         []Route{{Upstream: up.url()}},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	untrusted, _ := startProxy(t, Options{Routes: []Route{{Upstream: up.url()}}})

	v2 := func(ip [4]byte, port uint16) []byte {
		b := []byte("\r\n\r\n\x00\r\nQUIT\n")
		b = append(b, 0x21, 0x11, 0, 12)
		b = append(b, ip[:]...)
		b = append(b, 127, 0, 0, 1)
		b = binary.BigEndian.AppendUint16(b, port)
		b = binary.BigEndian.AppendUint16(b, 443)
		return b
	}
	cases := []struct {
		name   string
		base   string
		prefix []byte
		want   string // X-Forwarded-For upstream, "" = refused
	}{
		{"v1", trusted, []byte("PROXY TCP4 203.0.113.7 127.0.0.1 5555 443\r\n"), "203.0.113.7"},
		{"v1 IPv6", trusted, []byte("PROXY TCP6 2001:db8::1 ::1 5555 443\r\n"), "2001:db8::1"},
		{"v1 unknown", trusted, []byte("PROXY UNKNOWN\r\n"), "127.0.0.1"},
		{"v2", trusted, v2([4]byte{198, 51, 100, 9}, 1234), "198.51.100.9"},
		{"missing header from trusted", trusted, nil, ""},
		{"malformed v1", trusted, []byte("PROXY TCP4 nonsense\r\n"), ""},
		{"header from untrusted is not parsed", untrusted, []byte("PROXY TCP4 203.0.113.7 127.0.0.1 5555 443\r\n"), ""},
	}
	for _, tc := range cases {
		nc, err := net.Dial("tcp", strings.TrimPrefix(tc.base, "ws://"))
		if err != nil {
			t.Fatal(err)
		}
		nc.Write(tc.prefix)
		io.WriteString(nc, handshake+"\r\n")
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		nc.Close()
		if tc.want == "" {
			if err == nil && resp.StatusCode == 101 {
				t.Errorf("%s: accepted", tc.name)
			}
			continue
		}
		if err != nil || resp.StatusCode != 101 {
			t.Errorf("%s: %v %v", tc.name, resp, err)
			continue
		}
		if got := up.lastRequest().Header.Get("X-Forwarded-For"); got != tc.want {
			t.Errorf("%s: upstream saw X-Forwarded-For %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestHTTPLimits(t *testing.T) {
	t.Parallel()
	base, _ := startEchoProxy(t, Options{MaxHeaderBytes: 4096, HandshakeTimeout: 300 * time.Millisecond})
	resp, _ := rawDial(t, base, nil, handshake+"X-Big: "+strings.Repeat("a", 8000)+"\r\n\r\n")
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("oversized head: %d", resp.StatusCode)
	}
	resp, _ = rawDial(t, base, nil, strings.Replace(handshake, "GET", "POST", 1)+"\r\n")
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
	resp, _ = rawDial(t, base, nil, strings.Replace(handshake, "HTTP/1.1", "HTTP/1.0", 1)+"\r\n")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("HTTP/1.0: %d", resp.StatusCode)
	}
	// Slowloris: a head that never ends is cut at the handshake timeout.
	nc, err := net.Dial("tcp", strings.TrimPrefix(base, "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\n")
	start := time.Now()
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(nc); err != nil || time.Since(start) > 5*time.Second {
		t.Fatalf("slow client not dropped: %v after %v", err, time.Since(start))
	}
}

// Extensions negotiated end to end: reserved bits pass through the proxy.
func TestExtensionsPassThrough(t *testing.T) {
	t.Parallel()
	got := make(chan ws.Header, 1)
	up := startUpstream(t, nil, func(c *ws.Conn) {
		h, _, err := c.NextFrame(context.Background())
		if err == nil {
			got <- h
		}
		c.Close(ws.StatusNormalClosure, "")
	})
	base, _ := startProxy(t, Options{Routes: []Route{{Upstream: up.url()}}})
	c := dial(t, base, &ws.DialOptions{Extensions: "permessage-deflate; client_no_context_takeover"})
	if c.Extensions() != "permessage-deflate; client_no_context_takeover" {
		t.Fatalf("negotiated %q", c.Extensions())
	}
	// Not valid UTF-8, as compressed text is not: passed through with RSV1.
	if err := c.WriteFrame(ctxT(t), ws.Header{Fin: true, Rsv: ws.Rsv1, OpCode: ws.OpText}, []byte{0xf2, 0x48, 0xcd}); err != nil {
		t.Fatal(err)
	}
	h := <-got
	if h.Rsv != ws.Rsv1 || h.OpCode != ws.OpText || h.Length != 3 {
		t.Fatalf("upstream got %+v", h)
	}
}

// NoExtensions: the client's offer is not passed on, so nothing is
// negotiated and reserved bits are refused again.
func TestNoExtensions(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, nil, echoHandle)
	base, _ := startProxy(t, Options{Routes: []Route{{Upstream: up.url(), NoExtensions: true}}})
	c := dial(t, base, &ws.DialOptions{Extensions: "permessage-deflate"})
	if c.Extensions() != "" {
		t.Fatalf("negotiated %q", c.Extensions())
	}
	if got := up.lastRequest().Header.Get("Sec-WebSocket-Extensions"); got != "" {
		t.Fatalf("upstream was offered %q", got)
	}
	if err := c.WriteMessage(ctxT(t), ws.MessageText, []byte("plain")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.ReadMessage(ctxT(t)); err != nil || string(msg) != "plain" {
		t.Fatalf("%q %v", msg, err)
	}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	for _, bad := range []Route{
		{Upstream: "http://x"}, {Upstream: "ws://"}, {Upstream: "ws://u:p@x"},
		{Upstream: "ws://x", Path: "nope"}, {Upstream: "ws://x", Path: "/trailing/"},
	} {
		if _, err := New(&Options{Routes: []Route{bad}}); err == nil {
			t.Errorf("route %+v accepted", bad)
		}
	}
	if _, err := New(nil); err == nil {
		t.Error("no routes accepted")
	}
	s, err := New(&Options{Routes: []Route{
		{Name: "any", Upstream: "ws://a/base"},
		{Name: "chat", Path: "/chat", Upstream: "ws://b/", StripPath: true},
		{Name: "chat-host", Host: "Chat.Example", Path: "/chat", Upstream: "wss://c/in?k=v"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ host, path, query, route, target string }{
		{"x", "/", "", "any", "ws://a/base"},
		{"x", "/other", "q=1", "any", "ws://a/base/other?q=1"},
		{"x", "/chat", "", "chat", "ws://b/"},
		{"x", "/chat/room", "", "chat", "ws://b/room"},
		{"x", "/chatty", "", "any", "ws://a/base/chatty"},
		{"chat.example:8443", "/chat/r", "q=2", "chat-host", "wss://c/in/chat/r?k=v&q=2"},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest("GET", "http://"+tc.host+tc.path+"?"+tc.query, nil)
		req.Host = tc.host
		r := s.route(req)
		if r == nil || r.Name != tc.route {
			t.Errorf("%s%s: route %v, want %s", tc.host, tc.path, r, tc.route)
			continue
		}
		if got := r.target(req.URL); got != tc.target {
			t.Errorf("%s%s: target %s, want %s", tc.host, tc.path, got, tc.target)
		}
	}
}
