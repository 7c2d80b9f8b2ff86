package netproxy_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wssproxy/wssproxy/proxy/netproxy"
)

// scriptedProxy answers each CONNECT request of each connection with
// answer(conn number from 1, request number on that connection from 1,
// request); an answer ending without "\r\n\r\n" body rules is written as
// is. "close" after the answer closes the connection.
func scriptedProxy(t *testing.T, answer func(conn, n int, req *http.Request) (resp string, close bool)) string {
	var conns atomic.Int32
	return serve(t, func(c net.Conn) {
		cn := int(conns.Add(1))
		br := bufio.NewReader(c)
		for n := 1; ; n++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			resp, closeIt := answer(cn, n, req)
			if _, err := io.WriteString(c, resp); err != nil || closeIt {
				return
			}
			if strings.HasPrefix(resp, "HTTP/1.1 200") {
				_, _ = io.Copy(c, br)
				return
			}
		}
	})
}

const established = "HTTP/1.1 200 Connection established\r\n\r\n"

func digest407(nonce string, stale bool, extra string) string {
	return fmt.Sprintf("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Digest realm=\"r\", nonce=%q, qop=\"auth\", stale=%v\r\n%s\r\n", nonce, stale, extra)
}

// Digest when the 407 closes the connection: the answer goes on a new one.
func TestDigestAfterConnectionClose(t *testing.T) {
	var got []string
	proxy := scriptedProxy(t, func(conn, n int, req *http.Request) (string, bool) {
		got = append(got, fmt.Sprintf("%d/%d %s", conn, n, strings.SplitN(req.Header.Get("Proxy-Authorization"), " ", 2)[0]))
		if conn == 1 {
			return digest407("n1", false, "Connection: close\r\nContent-Length: 0\r\n"), true
		}
		if strings.Contains(req.Header.Get("Proxy-Authorization"), `nonce="n1"`) {
			return established, false
		}
		return digest407("n2", false, "Content-Length: 0\r\n"), false
	})
	dialRoundTrip(t, mustDialer(t, proxyURL("http", "u", "p", proxy), nil), startEcho(t))
	if strings.Join(got, ",") != "1/1 ,2/1 Digest" {
		t.Fatalf("requests %v", got)
	}
}

// A stale nonce (RFC 7616 §3.3) is retried with the new nonce, on the
// kept-alive connection, without asking the hook; a chunked 407 body is
// read past.
func TestDigestStaleNonce(t *testing.T) {
	var got []string
	proxy := scriptedProxy(t, func(conn, n int, req *http.Request) (string, bool) {
		a := req.Header.Get("Proxy-Authorization")
		got = append(got, fmt.Sprintf("%d/%d", conn, n))
		switch {
		case a == "":
			return digest407("old", false, "Transfer-Encoding: chunked\r\n") + "5\r\nhello\r\n0\r\n\r\n", false
		case strings.Contains(a, `nonce="old"`):
			return digest407("new", true, "Content-Length: 3\r\n") + "abc", false
		case strings.Contains(a, `nonce="new"`):
			return established, false
		}
		return "HTTP/1.1 400 Bad\r\n\r\n", true
	})
	var hook atomic.Int32
	d := mustDialer(t, proxyURL("http", "u", "p", proxy), &netproxy.Options{Auth: func(context.Context, netproxy.Challenge) (string, string, error) {
		hook.Add(1)
		return "", "", errors.New("not asked")
	}})
	dialRoundTrip(t, d, startEcho(t))
	if strings.Join(got, ",") != "1/1,1/2,1/3" || hook.Load() != 0 {
		t.Fatalf("requests %v, hook calls %d", got, hook.Load())
	}
}

// NTLM is bound to the connection: a proxy closing the one that carried
// its CHALLENGE ends the dial with a clear error; a 407 body too long to
// read past makes the NEGOTIATE go on a new connection.
func TestNTLMNeedsPersistentConnection(t *testing.T) {
	const challenge = "TlRMTVNTUAACAAAAAAAAADgAAAAFgomiESIzRFVmd4gAAAAAAAAAAAAAAAAAAAAA"
	var conns atomic.Int32
	proxy := scriptedProxy(t, func(conn, n int, req *http.Request) (string, bool) {
		conns.Store(int32(conn))
		if req.Header.Get("Proxy-Authorization") == "" {
			return "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: NTLM\r\nContent-Length: 100000\r\n\r\n", true
		}
		return "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: NTLM " + challenge + "\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", true
	})
	_, err := mustDialer(t, proxyURL("http", `DOM\u`, "p", proxy), nil).DialContext(ctxT(t), "tcp", "example.test:443")
	if !errors.Is(err, netproxy.ErrProtocol) || !strings.Contains(err.Error(), "NTLM needs a persistent connection") {
		t.Fatalf("got %v", err)
	}
	if conns.Load() != 2 {
		t.Fatalf("%d connections, want 2", conns.Load())
	}
}

// Unknown option values are refused up front.
func TestUnknownScheme(t *testing.T) {
	u, _ := netproxy.ParseURL("http://proxy.test:3128")
	if _, err := netproxy.New(u, &netproxy.Options{Schemes: []string{"Kerberos5"}}); err == nil || !strings.Contains(err.Error(), "Kerberos5") {
		t.Fatalf("got %v", err)
	}
}

// A proxy that cannot be reached is ErrUnreachable.
func TestProxyUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = mustDialer(t, "http://"+addr, nil).DialContext(ctxT(t), "tcp", "example.test:443")
	if !errors.Is(err, netproxy.ErrUnreachable) {
		t.Fatalf("got %v", err)
	}
}

// A proxy that drops a kept-alive connection instead of answering the
// next request (an idle timeout racing the request): the request is
// repeated once on a new connection.
func TestKeptAliveConnectionLost(t *testing.T) {
	var got []string
	proxy := scriptedProxy(t, func(conn, n int, req *http.Request) (string, bool) {
		got = append(got, fmt.Sprintf("%d/%d %s", conn, n, strings.SplitN(req.Header.Get("Proxy-Authorization"), " ", 2)[0]))
		switch {
		case conn == 1 && n == 1:
			return "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"r\"\r\nContent-Length: 0\r\n\r\n", false
		case conn == 1:
			return "", true // closes without an answer
		}
		return established, false
	})
	dialRoundTrip(t, mustDialer(t, proxyURL("http", "u", "p", proxy), nil), startEcho(t))
	if strings.Join(got, ",") != "1/1 ,1/2 Basic,2/1 Basic" {
		t.Fatalf("requests %v", got)
	}
}
