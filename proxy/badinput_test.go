package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/ws"
	"github.com/wssproxy/wssproxy/ws/echo"
)

// upgradeHead is a valid handshake's headers after the request line and
// Host.
const upgradeHead = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"

// badUpgrade is one input of the bad-input corpus: the bytes a client
// sends, and the status the proxy answers (0: it closes without an
// answer). echo is the status wssproxy's echo server answers when it
// differs (its parser is net/http's; then ws.Accept's checks run, shared
// with ws.ReadUpgrade).
type badUpgrade struct {
	name   string
	req    string
	status int
	echo   int
	why    string // why echo differs
}

// badUpgrades covers each class of issue 9 items 5 to 8, and request
// smuggling shapes.
func badUpgrades() []badUpgrade {
	get := func(target, headers string) string {
		return "GET " + target + " HTTP/1.1\r\nHost: x\r\n" + headers + upgradeHead + "\r\n"
	}
	const lenient = "net/http accepts it (RFC 9112 allows a server to), and the echo server has no next hop to disagree with"
	const noRoute = "the echo server has no routes; non-canonical paths are a proxy routing rule"
	return []badUpgrade{
		// Item 5: malformed requests.
		{name: "garbage request line", req: "garbage\r\n\r\n", status: 400},
		{name: "binary garbage", req: "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", status: 400},
		{name: "HTTP/0.9", req: "GET /\r\n\r\n", status: 400},
		{name: "empty request", req: "\r\n\r\n", status: 400},
		{name: "nothing sent", req: "", status: 0},
		{name: "truncated head", req: "GET / HTTP/1.1\r\nHost: x\r\n", status: 400},
		{name: "CR in header", req: get("/", "X-A: a\rb\r\n"), status: 400},
		{name: "NUL in header", req: get("/", "X-A: a\x00b\r\n"), status: 400},
		{name: "NUL in request line", req: "GET /\x00 HTTP/1.1\r\nHost: x\r\n" + upgradeHead + "\r\n", status: 400},
		{name: "header without colon", req: get("/", "nocolon\r\n"), status: 400},
		{name: "duplicate Host", req: get("/", "Host: y\r\n"), status: 400},
		{name: "path not starting with /", req: get("x", ""), status: 400},
		{name: "method not a token", req: "G(T / HTTP/1.1\r\nHost: x\r\n" + upgradeHead + "\r\n", status: 400},
		{name: "tab in request line", req: "GET\t/ HTTP/1.1\r\nHost: x\r\n" + upgradeHead + "\r\n", status: 400},
		{name: "malformed Host", req: "GET / HTTP/1.1\r\nHost: x y\r\n" + upgradeHead + "\r\n", status: 400},
		// Item 6: accepted by the parser, failed building the upstream request.
		{name: "space before colon", req: get("/", "X-A : b\r\n"), status: 400},
		{name: "fragment", req: get("/a#frag", ""), status: 400},
		// Item 7.
		{name: "HTTP/2.0", req: "GET / HTTP/2.0\r\nHost: x\r\n" + upgradeHead + "\r\n", status: 505},
		{name: "HTTP/3.0", req: "GET / HTTP/3.0\r\nHost: x\r\n" + upgradeHead + "\r\n", status: 505},
		{name: "HTTP/1.0", req: "GET / HTTP/1.0\r\nHost: x\r\n" + upgradeHead + "\r\n", status: 400},
		{name: "no Host", req: "GET / HTTP/1.1\r\n" + upgradeHead + "\r\n", status: 400},
		// Item 8: paths another server reads as another route's.
		{name: "dot segments", req: get("/api/../admin", ""), status: 400, echo: 101, why: noRoute},
		{name: "encoded dot segments", req: get("/api/%2e%2e/admin", ""), status: 400, echo: 101, why: noRoute},
		{name: "encoded slash", req: get("/api%2f..%2fadmin", ""), status: 400, echo: 101, why: noRoute},
		{name: "encoded backslash", req: get("/api%5C..%5Cadmin", ""), status: 400, echo: 101, why: noRoute},
		{name: "backslash", req: get(`/api\..\admin`, ""), status: 400, echo: 101, why: noRoute},
		{name: "empty segment", req: get("//admin", ""), status: 400, echo: 101, why: noRoute},
		// Request smuggling shapes.
		{name: "Content-Length and Transfer-Encoding", req: get("/", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n") + "0\r\n\r\n", status: 400},
		{name: "Transfer-Encoding chunked", req: get("/", "Transfer-Encoding: chunked\r\n") + "0\r\n\r\n", status: 400},
		{name: "Transfer-Encoding unknown", req: get("/", "Transfer-Encoding: gzip\r\n"), status: 400, echo: 501, why: "net/http answers an unknown transfer coding itself, with 501"},
		{name: "Content-Length body", req: get("/", "Content-Length: 5\r\n") + "hello", status: 400},
		{name: "two Content-Length", req: get("/", "Content-Length: 0\r\nContent-Length: 5\r\n"), status: 400},
		{name: "two equal Content-Length", req: get("/", "Content-Length: 0\r\nContent-Length: 0\r\n"), status: 400, echo: 101, why: "net/http merges equal Content-Length headers"},
		{name: "obs-fold continuation line", req: get("/", "X-A: a\r\n b\r\n"), status: 400, echo: 101, why: lenient},
		{name: "obs-fold first header", req: "GET / HTTP/1.1\r\n Host: x\r\n" + upgradeHead + "\r\n", status: 400},
		{name: "bare LF line endings", req: strings.ReplaceAll(get("/", ""), "\r\n", "\n"), status: 400, echo: 101, why: lenient},
		{name: "bare LF in one header", req: get("/", "X-A: b\n"), status: 400, echo: 101, why: lenient},
		{name: "absolute-form to another host", req: get("http://evil.example/", ""), status: 400},
		{name: "absolute-form ws", req: get("ws://x/", ""), status: 400},
		{name: "authority-form", req: get("evil.example:443", ""), status: 400},
		{name: "CONNECT", req: "CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n" + upgradeHead + "\r\n", status: 405},
		{name: "OPTIONS", req: "OPTIONS / HTTP/1.1\r\nHost: x\r\n" + upgradeHead + "\r\n", status: 405},
		{name: "OPTIONS *", req: "OPTIONS * HTTP/1.1\r\nHost: x\r\n" + upgradeHead + "\r\n", status: 405, echo: 200, why: "net/http answers OPTIONS * itself"},
		{name: "POST with body", req: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n" + upgradeHead + "\r\nbody", status: 400, echo: 405, why: "net/http reads the body, then ws.Accept refuses the method first"},
		{name: "overlong request line", req: get("/"+strings.Repeat("a", 64<<10), ""), status: 431},
		{name: "header bomb", req: get("/", strings.Repeat("X-Bomb: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 1000)), status: 431},
		{name: "many tiny headers", req: get("/", strings.Repeat("A: b\r\n", 5000)), status: 431},
		// Not an upgrade: refused without reaching the upstream either.
		{name: "no Upgrade", req: "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", status: 426},
		{name: "version 8", req: strings.Replace(get("/", ""), "Version: 13", "Version: 8", 1), status: 426},
		{name: "two keys", req: get("/", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"), status: 400},
	}
}

// answer sends req on a new connection to addr and returns the status
// and body of the answer; 0 when the connection closed without one.
func answer(t *testing.T, addr, req string) (int, string) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	var wg sync.WaitGroup
	wg.Go(func() {
		// Written beside the read: a server answers an oversized head
		// before reading all of it.
		io.WriteString(nc, req)
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	})
	defer wg.Wait()
	br := bufio.NewReader(nc)
	if _, err := br.Peek(1); errors.Is(err, io.EOF) {
		return 0, ""
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Errorf("%q: answer is not HTTP: %v", req[:min(len(req), 40)], err)
		return -1, ""
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return resp.StatusCode, ""
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(body)
}

// The bad-input corpus over raw TCP, to the proxy and to the echo server:
// each input gets its status with a reason, none reaches the upstream or
// counts as an upstream failure, and both servers still serve a valid
// client afterwards (goleak in TestMain checks that nothing is left).
func TestBadUpgradeCorpus(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, nil, echoHandle)
	m := NewMetrics()
	base, _ := startProxy(t, Options{
		Routes: []Route{
			{Name: "api", Path: "/api", Upstream: up.url()},
			{Name: "admin", Path: "/admin", Upstream: up.url(), AllowedOrigins: []string{"https://admin.example"}},
			{Name: "default", Upstream: up.url()},
		},
		Metrics:          m,
		HandshakeTimeout: 2 * time.Second,
	})
	proxyAddr := strings.TrimPrefix(base, "ws://")

	// The echo server as wssproxy echo runs it.
	eh := &echo.Handler{}
	es := httptest.NewUnstartedServer(eh)
	es.Config.ReadHeaderTimeout = 2 * time.Second
	es.Config.MaxHeaderBytes = ws.DefaultMaxHeaderBytes
	es.Start()
	t.Cleanup(es.Close)
	echoAddr := es.Listener.Addr().String()

	corpus := badUpgrades()
	tried := 0
	refused := map[int]uint64{} // status: count, as the metrics must say
	for _, tc := range corpus {
		status, body := answer(t, proxyAddr, tc.req)
		tried++
		if status > 0 {
			refused[status]++
		}
		if status != tc.status {
			t.Errorf("proxy, %s: status %d %q, want %d", tc.name, status, body, tc.status)
		} else if status != 0 && len(strings.TrimSpace(body)) <= len(http.StatusText(status)) {
			t.Errorf("proxy, %s: %d without a reason: %q", tc.name, status, body)
		}

		want := tc.status
		if tc.echo != 0 || tc.why != "" {
			want = tc.echo
		}
		status, body = answer(t, echoAddr, tc.req)
		tried++
		if status != want {
			t.Errorf("echo, %s: status %d %q, want %d", tc.name, status, body, want)
		} else if status >= 400 && strings.TrimSpace(body) == "" {
			t.Errorf("echo, %s: %d without a reason", tc.name, status)
		}
	}
	reached := up.accepted()
	if reached != 0 {
		t.Errorf("%d bad inputs reached the upstream", reached)
	}
	for _, line := range strings.Split(exposition(t, m), "\n") {
		if strings.HasPrefix(line, "wssproxy_upstream_failures_total{") {
			t.Errorf("a client's bad input counted as an upstream failure: %s", line)
		}
	}
	// Counted after the answer is written: wait for the last ones.
	waitFor(t, "the refusal metrics to match the answers", func() bool {
		for status, n := range refused {
			if count(m.handshakesRefused.WithLabelValues(strconv.Itoa(status))) != n {
				return false
			}
		}
		return true
	})
	// Both still serve: a valid client gets 101 and its echo.
	for _, u := range []string{base + "/api", "ws://" + echoAddr + "/"} {
		c := dial(t, u, nil)
		if err := c.WriteMessage(ctxT(t), ws.MessageText, []byte("still here")); err != nil {
			t.Fatal(err)
		}
		if _, msg, err := c.ReadMessage(ctxT(t)); err != nil || string(msg) != "still here" {
			t.Fatalf("%s after the corpus: %q %v", u, msg, err)
		}
		c.Close(ws.StatusNormalClosure, "")
	}
	if n := up.accepted(); n != 1 {
		t.Errorf("upstream accepted %d connections, want the valid one only", n)
	}
	// A crash (panic) would have ended the test binary before this line.
	t.Logf("bad-input corpus: %d inputs tried (%d requests, each to the proxy and the echo server), 0 crashes, %d reached the upstream", tried, len(corpus), reached)
}
