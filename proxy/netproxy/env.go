package netproxy

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"

	"golang.org/x/net/http/httpproxy"
)

// Environment holds proxy settings in the form of the conventional
// environment variables. The zero value means "no proxy".
//
// The semantics are those of Go's net/http (golang.org/x/net/http/httpproxy),
// which agree with curl's on the common cases, plus curl's ALL_PROXY:
//
//   - wss (and https) targets use HTTPSProxy, ws (and http) targets use
//     HTTPProxy; when that one is empty, AllProxy is used.
//   - NoProxy is a comma-separated list of exceptions: "*" (no proxy at
//     all), IP addresses ("10.1.2.3", "2001:db8::1" without brackets),
//     CIDR blocks ("10.0.0.0/8"), domain names ("example.com" matches example.com and every subdomain;
//     ".example.com" and "*.example.com" only subdomains), each optionally
//     with a port ("example.com:8443", "10.1.2.3:443") that then must
//     match too.
//   - "localhost" and loopback addresses (127.0.0.0/8, ::1) are never
//     proxied, whatever NoProxy says, as in Go. To go through a proxy to
//     a loopback target, give the proxy explicitly (New).
//   - A value without a scheme is an http:// proxy.
//
// Unlike Go, a proxy value that does not parse is an error rather than
// silently ignored: a typo must not send traffic around the proxy.
type Environment struct {
	HTTPProxy  string // HTTP_PROXY: for ws targets
	HTTPSProxy string // HTTPS_PROXY: for wss targets
	AllProxy   string // ALL_PROXY: for both, when the specific one is empty
	NoProxy    string // NO_PROXY: exceptions
}

// EnvironmentFromOS reads HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY,
// preferring the lower-case spelling of each when both are set (as Go
// and curl do).
func EnvironmentFromOS() Environment {
	return Environment{
		HTTPProxy:  getenvAny("http_proxy", "HTTP_PROXY"),
		HTTPSProxy: getenvAny("https_proxy", "HTTPS_PROXY"),
		AllProxy:   getenvAny("all_proxy", "ALL_PROXY"),
		NoProxy:    getenvAny("no_proxy", "NO_PROXY"),
	}
}

func getenvAny(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// proxyValue returns the setting that applies to scheme and its name.
func (e Environment) proxyValue(scheme string) (value, name string, err error) {
	switch scheme {
	case "ws", "http":
		value, name = e.HTTPProxy, "HTTP_PROXY"
	case "wss", "https":
		value, name = e.HTTPSProxy, "HTTPS_PROXY"
	default:
		return "", "", fmt.Errorf("netproxy: scheme %q: want ws, wss, http or https", scheme)
	}
	if value == "" {
		value, name = e.AllProxy, "ALL_PROXY"
	}
	return value, name, nil
}

// ProxyFor returns the proxy to use for a connection to addr (host:port)
// made for a URL of the given scheme (ws, wss, http or https), or nil for
// a direct connection.
func (e Environment) ProxyFor(scheme, addr string) (*url.URL, error) {
	r, err := e.resolver(scheme)
	if err != nil {
		return nil, err
	}
	return r.proxyFor(addr), nil
}

// envResolver is an Environment prepared for one scheme.
type envResolver struct {
	proxy   *url.URL // nil: always direct
	noProxy func(*url.URL) (*url.URL, error)
}

func (e Environment) resolver(scheme string) (*envResolver, error) {
	value, name, err := e.proxyValue(scheme)
	if err != nil || value == "" {
		return &envResolver{}, err
	}
	u, err := ParseURL(value)
	if err != nil {
		return nil, fmt.Errorf("netproxy: %s: %w", name, err)
	}
	// httpproxy applies NO_PROXY and the loopback rule; the proxy value
	// only needs to be non-empty and parseable there.
	cfg := &httpproxy.Config{HTTPProxy: "http://proxy.invalid", NoProxy: e.NoProxy}
	return &envResolver{proxy: u, noProxy: cfg.ProxyFunc()}, nil
}

func (r *envResolver) proxyFor(addr string) *url.URL {
	if r.proxy == nil {
		return nil
	}
	if p, err := r.noProxy(&url.URL{Scheme: "http", Host: addr}); err != nil || p == nil {
		return nil
	}
	return r.proxy
}

// Dialer returns a dial function that connects to each address through
// the proxy e selects for scheme (ws, wss, http or https), or directly
// (with opts.Dial, or a net.Dialer). It fails when the proxy setting that
// applies does not parse.
func (e Environment) Dialer(scheme string, opts *Options) (DialFunc, error) {
	r, err := e.resolver(scheme)
	if err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	if r.proxy == nil {
		return o.Dial, nil
	}
	pd, err := New(r.proxy, opts)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if r.proxyFor(addr) == nil {
			o.Logger.Debug().Str("target", addr).Msg("netproxy: direct (NO_PROXY or loopback)")
			return o.Dial(ctx, network, addr)
		}
		return pd.DialContext(ctx, network, addr)
	}, nil
}

// FromEnvironment returns EnvironmentFromOS().Dialer(scheme, opts): a dial
// function for ws.DialOptions.NetDial that honours HTTPS_PROXY (wss),
// HTTP_PROXY (ws), ALL_PROXY and NO_PROXY. See Environment.
func FromEnvironment(scheme string, opts *Options) (DialFunc, error) {
	return EnvironmentFromOS().Dialer(scheme, opts)
}
