package ws_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/ws"
)

// upgradeHeaders are the handshake headers of a valid request, after Host.
const upgradeHeaders = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + fuzzKey + "\r\nSec-WebSocket-Version: 13\r\n"

// malformedRequests are upgrade requests every ws server refuses, with
// the status it answers. ReadUpgrade (the raw parser) refuses them all;
// those marked viaHTTP reach ws.Accept through net/http's own parser and
// are refused by Accept with the same status.
var malformedRequests = []struct {
	name    string
	req     string
	status  int
	viaHTTP bool
}{
	{"garbage request line", "garbage\r\n\r\n", 400, false},
	{"HTTP/0.9", "GET /\r\n\r\n", 400, false},
	{"empty request line", "\r\n\r\n", 400, false},
	{"two spaces in request line", "GET  / HTTP/1.1\r\nHost: x\r\n" + upgradeHeaders + "\r\n", 400, false},
	{"lowercase version", "GET / http/1.1\r\nHost: x\r\n" + upgradeHeaders + "\r\n", 400, false},
	{"CR in header value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n" + upgradeHeaders + "\r\n", 400, false},
	{"NUL in header value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n" + upgradeHeaders + "\r\n", 400, false},
	{"header without colon", "GET / HTTP/1.1\r\nHost: x\r\nnocolon\r\n" + upgradeHeaders + "\r\n", 400, false},
	{"duplicate Host", "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n" + upgradeHeaders + "\r\n", 400, false},
	{"target not a URI", "GET /%zz HTTP/1.1\r\nHost: x\r\n" + upgradeHeaders + "\r\n", 400, false},
	{"path not starting with /", "GET x HTTP/1.1\r\nHost: x\r\n" + upgradeHeaders + "\r\n", 400, false},
	{"space before colon", "GET / HTTP/1.1\r\nHost: x\r\nX-A : b\r\n" + upgradeHeaders + "\r\n", 400, false},
	{"fragment in path", "GET /a#frag HTTP/1.1\r\nHost: x\r\n" + upgradeHeaders + "\r\n", 400, true},
	{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n" + upgradeHeaders + "\r\n", 505, false},
	{"HTTP/3.0", "GET / HTTP/3.0\r\nHost: x\r\n" + upgradeHeaders + "\r\n", 505, false},
	{"no Host", "GET / HTTP/1.1\r\n" + upgradeHeaders + "\r\n", 400, false},
	{"empty Host", "GET / HTTP/1.1\r\nHost:\r\n" + upgradeHeaders + "\r\n", 400, false},
	{"malformed Host", "GET / HTTP/1.1\r\nHost: x y\r\n" + upgradeHeaders + "\r\n", 400, false},
	{"Content-Length and Transfer-Encoding", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n" + upgradeHeaders + "\r\n0\r\n\r\n", 400, true},
	{"chunked body", "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" + upgradeHeaders + "\r\n0\r\n\r\n", 400, true},
	{"body", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n" + upgradeHeaders + "\r\nhello", 400, true},
	{"two equal Content-Length", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n" + upgradeHeaders + "\r\n", 400, false},
	{"two Content-Length", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 5\r\n" + upgradeHeaders + "\r\n", 400, false},
	{"obs-fold continuation line", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n" + upgradeHeaders + "\r\n", 400, false},
	{"whitespace before first header", "GET / HTTP/1.1\r\n\tHost: x\r\n" + upgradeHeaders + "\r\n", 400, false},
	{"bare LF line endings", strings.ReplaceAll("GET / HTTP/1.1\r\nHost: x\r\n"+upgradeHeaders+"\r\n", "\r\n", "\n"), 400, false},
	{"bare LF ending the head", "GET / HTTP/1.1\r\nHost: x\r\n" + upgradeHeaders + "\n", 400, false},
	{"absolute-form to another host", "GET http://evil.example/ HTTP/1.1\r\nHost: x\r\n" + upgradeHeaders + "\r\n", 400, true},
	{"absolute-form", "GET ws://x/ HTTP/1.1\r\nHost: x\r\n" + upgradeHeaders + "\r\n", 400, true},
	{"CONNECT", "CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n" + upgradeHeaders + "\r\n", 405, true},
	{"OPTIONS", "OPTIONS / HTTP/1.1\r\nHost: x\r\n" + upgradeHeaders + "\r\n", 405, true},
	{"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: x\r\n" + upgradeHeaders + "\r\n", 405, false},
	{"overlong request line", "GET /" + strings.Repeat("a", 64<<10) + " HTTP/1.1\r\nHost: x\r\n" + upgradeHeaders + "\r\n", 431, false},
	{"header bomb", "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-Bomb: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 2000) + upgradeHeaders + "\r\n", 431, false},
}

// Every malformed request gets its HTTP status with a reason from
// ReadUpgrade, which then closes the connection.
func TestReadUpgradeMalformed(t *testing.T) {
	t.Parallel()
	for _, tc := range malformedRequests {
		nc := &fuzzConn{r: bytes.NewReader([]byte(tc.req))}
		u, err := ws.ReadUpgrade(context.Background(), nc, &ws.AcceptOptions{MaxHeaderBytes: ws.DefaultMaxHeaderBytes})
		if err == nil {
			t.Errorf("%s: accepted %s", tc.name, u.Request.URL)
			continue
		}
		var herr *ws.HandshakeError
		if !errors.As(err, &herr) || herr.Status != tc.status || herr.Reason == "" {
			t.Errorf("%s: got %v, want status %d with a reason", tc.name, err, tc.status)
			continue
		}
		if !nc.closed {
			t.Errorf("%s: connection left open", tc.name)
		}
		resp, rerr := http.ReadResponse(bufio.NewReader(&nc.w), nil)
		if rerr != nil {
			t.Errorf("%s: answer is not HTTP: %v", tc.name, rerr)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != tc.status || strings.TrimSpace(string(body)) != herr.Reason {
			t.Errorf("%s: answered %d %q, want %d %q", tc.name, resp.StatusCode, body, tc.status, herr.Reason)
		}
	}
}

// A request that ends before its head does is answered 400 when some of
// it arrived; a connection closed before sending anything gets nothing.
func TestReadUpgradeTruncated(t *testing.T) {
	t.Parallel()
	nc := &fuzzConn{r: bytes.NewReader([]byte("GET / HTTP/1.1\r\nHost: x\r\n"))}
	_, err := ws.ReadUpgrade(context.Background(), nc, nil)
	var herr *ws.HandshakeError
	if !errors.As(err, &herr) || herr.Status != 400 || !strings.HasPrefix(nc.w.String(), "HTTP/1.1 400 ") {
		t.Fatalf("truncated head: %v, answered %q", err, nc.w.String())
	}
	nc = &fuzzConn{r: bytes.NewReader(nil)}
	_, err = ws.ReadUpgrade(context.Background(), nc, nil)
	if !errors.Is(err, ws.ErrBadHandshake) || errors.As(err, &herr) || nc.w.Len() != 0 || !nc.closed {
		t.Fatalf("nothing sent: %v, answered %q", err, nc.w.String())
	}
}

// The requests net/http's parser lets through are refused by ws.Accept
// with the status ReadUpgrade gives them: one answer for both servers.
func TestAcceptMalformed(t *testing.T) {
	t.Parallel()
	var upgrades atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := ws.Accept(w, r, nil)
		if err == nil {
			upgrades.Add(1)
			c.Abort()
		}
	}))
	defer srv.Close()
	for _, tc := range malformedRequests {
		if !tc.viaHTTP {
			continue
		}
		nc, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(nc, tc.req)
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			nc.Close()
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		nc.Close()
		if resp.StatusCode != tc.status || len(bytes.TrimSpace(body)) == 0 {
			t.Errorf("%s: answered %d %q, want %d with a reason", tc.name, resp.StatusCode, body, tc.status)
		}
	}
	if n := upgrades.Load(); n != 0 {
		t.Errorf("%d malformed requests upgraded", n)
	}
}
