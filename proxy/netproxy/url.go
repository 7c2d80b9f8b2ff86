package netproxy

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// defaultPorts are the proxy ports used when a proxy URL has none, as in
// Go's net/http.
var defaultPorts = map[string]string{
	"http":    "80",
	"https":   "443",
	"socks5":  "1080",
	"socks5h": "1080",
}

// ParseURL parses a proxy URL (see the package documentation). A value
// without "://" is taken as "http://" + s, as curl and Go do. The scheme
// must be http, https, socks5 or socks5h (else ErrUnsupportedScheme); the
// URL must have a host and nothing but user information, host and port
// (a path of "/" is tolerated). The error never contains the password.
func ParseURL(s string) (*url.URL, error) {
	raw := strings.TrimSpace(s)
	if raw == "" {
		return nil, fmt.Errorf("netproxy: empty proxy URL")
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the input, which may hold a password.
		return nil, fmt.Errorf("netproxy: invalid proxy URL: %w", unquoteURLError(err))
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if _, ok := defaultPorts[u.Scheme]; !ok {
		return nil, fmt.Errorf("%w %q in %s (want http, https, socks5 or socks5h)", ErrUnsupportedScheme, u.Scheme, Redact(u))
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("netproxy: proxy URL %s has no host", Redact(u))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("netproxy: proxy URL %s: bad port %q", Redact(u), p)
		}
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("netproxy: proxy URL %s: want only [user:pass@]host[:port]", Redact(u))
	}
	return u, nil
}

// unquoteURLError drops the quoted URL from a *url.Error, keeping the
// reason.
func unquoteURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Redact returns u as a string without user information, so that it can
// be logged or shown: "http://proxy.example:3128".
func Redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	return c.String()
}

// proxyAddr returns host:port of the proxy, with the scheme's default port.
func proxyAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = defaultPorts[u.Scheme]
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// splitTarget checks a dial address: host:port with a port in 1..65535
// and a host made of printable ASCII without spaces or URL delimiters, so
// that it cannot inject anything into a CONNECT request line.
func splitTarget(addr string) (host string, port uint16, err error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("netproxy: target address %q: %w", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return "", 0, fmt.Errorf("netproxy: target address %q: bad port", addr)
	}
	if h == "" || len(h) > 255 {
		return "", 0, fmt.Errorf("netproxy: target address %q: bad host", addr)
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("/\\@?#\"<>", c) >= 0 {
			return "", 0, fmt.Errorf("netproxy: target address %q: invalid character in host", addr)
		}
	}
	return h, uint16(n), nil
}
