package netproxy_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/proxy/netproxy"
)

// fakeHTTPProxy reads one request head and then runs answer.
func fakeHTTPProxy(t *testing.T, answer func(c net.Conn, req *http.Request)) string {
	return serve(t, func(c net.Conn) {
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		answer(c, req)
	})
}

func TestConnectBadProxies(t *testing.T) {
	cases := []struct {
		name   string
		answer func(c net.Conn, req *http.Request)
		want   error
		text   string
	}{
		{"closes before answering", func(c net.Conn, _ *http.Request) {}, io.ErrUnexpectedEOF, "closed the connection"},
		{"closes mid status line", func(c net.Conn, _ *http.Request) { io.WriteString(c, "HTTP/1.1 200 Conn") }, io.ErrUnexpectedEOF, ""},
		{"closes mid headers", func(c net.Conn, _ *http.Request) { io.WriteString(c, "HTTP/1.1 200 OK\r\nX: y\r\n") }, io.ErrUnexpectedEOF, ""},
		{"oversized head", func(c net.Conn, _ *http.Request) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\n")
			for i := 0; i < 2000; i++ {
				if _, err := io.WriteString(c, "X-Padding: "+strings.Repeat("a", 100)+"\r\n"); err != nil {
					return
				}
			}
		}, netproxy.ErrResponseTooLarge, ""},
		{"one endless line", func(c net.Conn, _ *http.Request) {
			io.WriteString(c, "HTTP/1.1 200 ")
			for i := 0; i < 200; i++ {
				if _, err := io.WriteString(c, strings.Repeat("b", 1000)); err != nil {
					return
				}
			}
		}, netproxy.ErrResponseTooLarge, ""},
		{"not HTTP", func(c net.Conn, _ *http.Request) { io.WriteString(c, "SSH-2.0-OpenSSH\r\n\r\n") }, netproxy.ErrProtocol, "SSH-2.0"},
		{"407 with an unknown scheme", func(c net.Conn, _ *http.Request) {
			io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Bearer realm=\"x\"\r\nContent-Length: 0\r\n\r\n")
		}, netproxy.ErrAuthRequired, "(schemes offered: Bearer)"},
		{"407 with NTLM and no credentials", func(c net.Conn, _ *http.Request) {
			io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: NTLM\r\nConnection: close\r\n\r\n")
		}, netproxy.ErrAuthRequired, "(schemes offered: NTLM)"},
		{"502 with status line", func(c net.Conn, _ *http.Request) {
			io.WriteString(c, "HTTP/1.1 502 Upstream \x01Broken\r\nContent-Length: 0\r\n\r\n")
		}, nil, "HTTP/1.1 502 Upstream ?Broken"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			proxy := fakeHTTPProxy(t, tc.answer)
			_, err := mustDialer(t, "http://"+proxy, nil).DialContext(ctxT(t), "tcp", "example.test:443")
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("got %v; want %v containing %q", err, tc.want, tc.text)
			}
		})
	}
}

func TestConnectRequestAndEarlyData(t *testing.T) {
	got := make(chan *http.Request, 1)
	proxy := fakeHTTPProxy(t, func(c net.Conn, req *http.Request) {
		got <- req
		// The 200 and the first tunnelled bytes in one segment.
		io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\nearly")
		_, _ = io.Copy(c, c)
	})
	// Schemes [basic]: the credentials go with the first CONNECT.
	d := mustDialer(t, "http://u%40x:p%3Aw@"+proxy, &netproxy.Options{Header: http.Header{"User-Agent": {"wssproxy-test"}}, Schemes: []string{"basic"}})
	c, err := d.DialContext(ctxT(t), "tcp", "[::1]:8443")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "early" {
		t.Fatalf("early data %q %v", buf, err)
	}
	roundTrip(t, c)
	req := <-got
	if req.Method != "CONNECT" || req.RequestURI != "[::1]:8443" || req.Host != "[::1]:8443" || req.UserAgent() != "wssproxy-test" {
		t.Fatalf("request %s %s host %s ua %q", req.Method, req.RequestURI, req.Host, req.UserAgent())
	}
	// Basic credentials are the URL's, percent-decoded.
	r2, _ := http.NewRequest("GET", "/", nil)
	r2.Header.Set("Authorization", req.Header.Get("Proxy-Authorization"))
	if u, p, ok := r2.BasicAuth(); !ok || u != "u@x" || p != "p:w" {
		t.Fatalf("Proxy-Authorization %q", req.Header.Get("Proxy-Authorization"))
	}
}

func TestSOCKS5BadProxies(t *testing.T) {
	cases := []struct {
		name   string
		answer func(c net.Conn)
		want   error
	}{
		{"closes after greeting", func(c net.Conn) { readN(c, 3) }, io.ErrUnexpectedEOF},
		{"not SOCKS5", func(c net.Conn) { readN(c, 3); c.Write([]byte{4, 0}) }, netproxy.ErrProtocol},
		{"no acceptable method", func(c net.Conn) { readN(c, 3); c.Write([]byte{5, 0xff}) }, netproxy.ErrAuthRequired},
		{"unoffered method", func(c net.Conn) { readN(c, 3); c.Write([]byte{5, 0x01}) }, netproxy.ErrProtocol},
		{"closes mid reply", func(c net.Conn) {
			readN(c, 3)
			c.Write([]byte{5, 0})
			readN(c, 4+1+len("example.test")+2)
			c.Write([]byte{5, 0, 0, 1, 127})
		}, io.ErrUnexpectedEOF},
		{"bad address type", func(c net.Conn) {
			readN(c, 3)
			c.Write([]byte{5, 0})
			readN(c, 4+1+len("example.test")+2)
			c.Write([]byte{5, 0, 0, 9, 0, 0})
		}, netproxy.ErrProtocol},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			proxy := serve(t, tc.answer)
			_, err := mustDialer(t, "socks5h://"+proxy, nil).DialContext(ctxT(t), "tcp", "example.test:443")
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func readN(c net.Conn, n int) { _, _ = io.ReadFull(c, make([]byte, n)) }

// hangingProxy accepts and reads but never answers.
func hangingProxy(t *testing.T) string {
	return serve(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
}

func TestCancelAndTimeout(t *testing.T) {
	for _, scheme := range []string{"http", "socks5h"} {
		t.Run(scheme+" cancel", func(t *testing.T) {
			proxy := hangingProxy(t)
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			start := time.Now()
			_, err := mustDialer(t, scheme+"://"+proxy, nil).DialContext(ctx, "tcp", "example.test:443")
			if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
				t.Fatalf("got %v after %v, want context.Canceled soon", err, time.Since(start))
			}
		})
		t.Run(scheme+" timeout", func(t *testing.T) {
			proxy := hangingProxy(t)
			_, err := mustDialer(t, scheme+"://"+proxy, &netproxy.Options{Timeout: 150 * time.Millisecond}).DialContext(context.Background(), "tcp", "example.test:443")
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("got %v, want DeadlineExceeded", err)
			}
		})
	}
}

func TestRefusedBeforeDialing(t *testing.T) {
	var dials atomic.Int32
	d := mustDialer(t, "http://127.0.0.1:1", &netproxy.Options{Dial: func(ctx context.Context, n, a string) (net.Conn, error) {
		dials.Add(1)
		return nil, errors.New("should not dial")
	}})
	for _, addr := range []string{"evil\r\nX-Injected: 1:443", "host", "host:0", "host:99999", "a b:443", "host/path:443", ":443", "u@h:443"} {
		if _, err := d.DialContext(context.Background(), "tcp", addr); err == nil {
			t.Errorf("%q accepted", addr)
		}
	}
	if _, err := d.DialContext(context.Background(), "udp", "h:53"); err == nil {
		t.Error("udp accepted")
	}
	if dials.Load() != 0 {
		t.Fatalf("%d dials for refused input", dials.Load())
	}
}

func TestParseURL(t *testing.T) {
	good := map[string]string{
		"proxy.example:3128":            "http://proxy.example:3128",
		"http://u:p@proxy.example":      "http://proxy.example",
		"HTTPS://proxy.example:8443/":   "https://proxy.example:8443/",
		"socks5://127.0.0.1:1080":       "socks5://127.0.0.1:1080",
		"socks5h://user:pw@[::1]:1080":  "socks5h://[::1]:1080",
		" http://proxy.example:3128 \n": "http://proxy.example:3128",
	}
	for in, want := range good {
		u, err := netproxy.ParseURL(in)
		if err != nil || netproxy.Redact(u) != want {
			t.Errorf("ParseURL(%q) = %v, %v; want %s", in, netproxy.Redact(u), err, want)
		}
	}
	bad := map[string]error{
		"ftp://proxy.example":             netproxy.ErrUnsupportedScheme,
		"socks4://proxy.example":          netproxy.ErrUnsupportedScheme,
		"ws://u:hunter2@proxy.example":    netproxy.ErrUnsupportedScheme,
		"http://":                         nil,
		"http://proxy.example:0":          nil,
		"http://proxy.example:http":       nil,
		"http://proxy.example/path":       nil,
		"http://proxy.example/?q=1":       nil,
		"":                                nil,
		"http://u:hunter2@proxy.ex ample": nil,
	}
	for in, want := range bad {
		_, err := netproxy.ParseURL(in)
		if err == nil || (want != nil && !errors.Is(err, want)) {
			t.Errorf("ParseURL(%q): %v, want error %v", in, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("ParseURL(%q): password in error %v", in, err)
		}
	}
}
