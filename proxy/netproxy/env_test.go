package netproxy_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/proxy/netproxy"
)

func TestEnvironmentProxyFor(t *testing.T) {
	env := netproxy.Environment{
		HTTPProxy:  "http://plain.proxy:3128",
		HTTPSProxy: "http://tls.proxy:3128",
		NoProxy:    "internal.example, .sub.example, 10.0.0.0/8, 192.168.1.7, example.org:8443, 2001:db8::1",
	}
	cases := []struct {
		env          netproxy.Environment
		scheme, addr string
		want         string
	}{
		{env, "wss", "ws.example.com:443", "http://tls.proxy:3128"},
		{env, "https", "ws.example.com:443", "http://tls.proxy:3128"},
		{env, "ws", "ws.example.com:80", "http://plain.proxy:3128"},
		{env, "wss", "internal.example:443", ""},   // exact domain
		{env, "wss", "a.internal.example:443", ""}, // and its subdomains
		{env, "wss", "notinternal.example:443", "http://tls.proxy:3128"},
		{env, "wss", "sub.example:443", "http://tls.proxy:3128"}, // ".sub.example": subdomains only
		{env, "wss", "x.sub.example:443", ""},
		{env, "wss", "10.20.30.40:443", ""}, // CIDR
		{env, "wss", "11.0.0.1:443", "http://tls.proxy:3128"},
		{env, "wss", "192.168.1.7:443", ""},   // IP
		{env, "wss", "[2001:db8::1]:443", ""}, // IPv6
		{env, "wss", "example.org:8443", ""},  // domain with port
		{env, "wss", "example.org:443", "http://tls.proxy:3128"},
		{env, "wss", "localhost:443", ""}, // loopback is never proxied
		{env, "wss", "127.0.0.1:443", ""},
		{env, "wss", "[::1]:443", ""},
		{netproxy.Environment{AllProxy: "socks5h://all.proxy:1080"}, "wss", "a.example:443", "socks5h://all.proxy:1080"},
		{netproxy.Environment{AllProxy: "socks5h://all.proxy:1080", HTTPProxy: "h:1"}, "ws", "a.example:80", "http://h:1"},
		{netproxy.Environment{HTTPProxy: "h:1"}, "wss", "a.example:443", ""}, // no fallback from HTTPS to HTTP
		{netproxy.Environment{HTTPSProxy: "h:1", NoProxy: "*"}, "wss", "a.example:443", ""},
		{netproxy.Environment{}, "wss", "a.example:443", ""},
	}
	for _, tc := range cases {
		u, err := tc.env.ProxyFor(tc.scheme, tc.addr)
		got := netproxy.Redact(u)
		if err != nil || got != tc.want {
			t.Errorf("%+v %s %s: got %q %v, want %q", tc.env, tc.scheme, tc.addr, got, err, tc.want)
		}
	}
	if _, err := (netproxy.Environment{HTTPSProxy: "ftp://x"}).ProxyFor("wss", "a:443"); err == nil {
		t.Error("bad HTTPS_PROXY accepted")
	}
	if _, err := (netproxy.Environment{HTTPSProxy: "ftp://x"}).Dialer("wss", nil); err == nil {
		t.Error("bad HTTPS_PROXY accepted by Dialer")
	}
	if _, err := env.ProxyFor("gopher", "a:443"); err == nil {
		t.Error("bad scheme accepted")
	}
}

func TestEnvironmentFromOS(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://upper:1")
	t.Setenv("https_proxy", "http://lower:1")
	t.Setenv("HTTP_PROXY", "")
	t.Setenv("http_proxy", "")
	t.Setenv("ALL_PROXY", "socks5://all:1080")
	t.Setenv("all_proxy", "")
	t.Setenv("NO_PROXY", "a.example")
	t.Setenv("no_proxy", "")
	env := netproxy.EnvironmentFromOS()
	want := netproxy.Environment{HTTPSProxy: "http://lower:1", AllProxy: "socks5://all:1080", NoProxy: "a.example"}
	if env != want {
		t.Fatalf("got %+v, want %+v", env, want)
	}
}

// The environment dialer sends a name that is not excluded to the proxy,
// and dials excluded names and loopback directly (with Options.Dial).
func TestEnvironmentDialerTinyproxy(t *testing.T) {
	proxy := testpeer.StartTinyproxy(t, testpeer.TinyproxyOptions{})
	echoAddr := startEcho(t)
	_, port, _ := net.SplitHostPort(echoAddr)
	env := netproxy.Environment{HTTPSProxy: "http://" + proxy, NoProxy: "direct.test"}
	var mu sync.Mutex
	var dialed []string
	dial, err := env.Dialer("wss", &netproxy.Options{Dial: func(ctx context.Context, n, a string) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, a)
		mu.Unlock()
		if strings.HasPrefix(a, "direct.test:") {
			a = echoAddr // what a resolver would do
		}
		var d net.Dialer
		return d.DialContext(ctx, n, a)
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"direct.test:" + port, "localhost:" + port, echoAddr} {
		c, err := dial(ctxT(t), "tcp", target)
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		roundTrip(t, c)
		c.Close()
	}
	// proxied.invalid goes to tinyproxy, which cannot resolve it and
	// answers with an error status: the proxy's answer proves the route.
	_, err = dial(ctxT(t), "tcp", "proxied.invalid:443")
	var ce *netproxy.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("proxied.invalid: got %v, want the proxy's refusal", err)
	}
	want := []string{"direct.test:" + port, "localhost:" + port, echoAddr, proxy}
	if !slices.Equal(dialed, want) {
		t.Fatalf("dialed %v, want %v", dialed, want)
	}
}
