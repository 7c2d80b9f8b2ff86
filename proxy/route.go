package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/tlsconf/psk"
	"github.com/wssproxy/wssproxy/ws"
)

// DefaultPingInterval is how often the proxy pings each leg unless a
// route says otherwise: a peer that vanished without a FIN or RST (a
// dropped NAT mapping, a powered-off device) is found within twice this.
const DefaultPingInterval = 30 * time.Second

// Flood limits, per leg and second, unless a route says otherwise: far
// above what chat, telemetry or a browser sends, far below what a flood
// of empty frames or pings costs to relay.
const (
	DefaultMaxTinyFrameRate = 50000
	DefaultMaxControlRate   = 100
)

// Route sends the WebSocket requests that match Host and Path to one
// upstream. Zero values mean the defaults documented on each field.
type Route struct {
	// Name identifies the route in logs, metrics and the admin API.
	// Default: Host followed by Path ("example.com/chat", "example.com",
	// "/chat"), or "*" for a route matching every host and path, so
	// unnamed routes of one Server never share a name.
	Name string
	// Host matches the request's host (without port), case-insensitively;
	// "" matches any host.
	Host string
	// Path matches requests whose path is Path or starts with Path + "/";
	// "" or "/" matches every path. The longest matching Path wins. The
	// request path is matched as sent; the Server refuses (400) paths not
	// in canonical form before matching (see checkPath).
	Path string
	// Upstream is the ws:// or wss:// URL requests are relayed to.
	Upstream string
	// StripPath removes Path from the request path before it is appended
	// to the upstream URL's path; the query is always passed on.
	StripPath bool
	// UpstreamTLS verifies a wss upstream (CA, pins, ignore policy, pause);
	// nil means system roots with default verification. Built with a
	// tlsconf.ClientOptions.SessionCacheSize, it resumes TLS sessions
	// with the upstream, its policy still checked on each connection;
	// the sessions belong to the Client, so give each route its own to
	// keep routes from resuming each other's.
	UpstreamTLS *tlsconf.Client
	// UpstreamPSK, if set, makes a wss upstream use TLS 1.3 external PSK
	// instead of certificates (UpstreamTLS must then be nil).
	UpstreamPSK *psk.ClientConfig
	// NoExtensions stops offering the client's WebSocket extensions
	// upstream, so none (permessage-deflate included) is negotiated:
	// size limits then count real payload bytes and text is always
	// checked as UTF-8. By default extensions pass through end to end
	// and limits count the bytes on the wire.
	NoExtensions bool
	// UpstreamDial opens the upstream's transport connection (an HTTP
	// CONNECT or SOCKS5 dialer); nil dials directly.
	UpstreamDial func(ctx context.Context, network, addr string) (net.Conn, error)
	// UpstreamTimeout bounds dialing and both handshakes upstream
	// (including a pause on SSL errors). Default 30s.
	UpstreamTimeout time.Duration
	// AllowedOrigins, if not empty, lists the Origin values allowed
	// (scheme://host[:port], compared case-insensitively); other origins
	// and requests without Origin get 403. Empty allows every request.
	AllowedOrigins []string
	// MaxFrameSize and MaxMessageSize limit what each leg may send; more
	// closes the offending leg with 1009. 0 means the ws defaults (32 MiB),
	// negative no limit (frames still stream in bounded memory).
	MaxFrameSize, MaxMessageSize int64
	// OutgoingFrameSize splits relayed frames larger than it. Default 512 KiB.
	// Relayed frames also move in pieces of at most 32 KiB (see the
	// package documentation), so only a smaller value changes anything.
	OutgoingFrameSize int
	// PingInterval sends the proxy's own keepalive pings on each leg:
	// default DefaultPingInterval, negative none. PongTimeout fails a
	// leg whose pong is that late (default: the interval).
	PingInterval, PongTimeout time.Duration
	// IdleTimeout closes both legs with 1001 after that long without a
	// data frame; 0 never does (mostly idle connections are the normal
	// load, and keepalive pings find dead peers).
	IdleTimeout time.Duration
	// FrameTimeout drops a leg whose peer stops for that long in the
	// middle of a frame (1008 to it, the other leg closed as after a
	// protocol error); WriteTimeout drops a leg whose peer has not taken
	// a write for that long (it stopped reading). Default 30s each
	// (ws.DefaultFrameTimeout, ws.DefaultWriteTimeout), negative none.
	FrameTimeout, WriteTimeout time.Duration
	// MaxTinyFrameRate bounds the data frames under 16 bytes a second
	// each leg may send, and MaxControlRate its pings and pongs: a leg
	// over either is closed with 1008 (a tiny-frame or ping flood), the
	// other leg as after a protocol error. Defaults
	// DefaultMaxTinyFrameRate and DefaultMaxControlRate; negative: no
	// limit.
	MaxTinyFrameRate, MaxControlRate int

	upstream *url.URL
}

// EffectiveName returns the route's name in logs and metrics: Name, or
// when it is empty the host and path (lower-cased host, "/" as no path),
// or "*" for a route matching every host and path.
func (r *Route) EffectiveName() string {
	if r.Name != "" {
		return r.Name
	}
	name := strings.ToLower(r.Host) + strings.TrimSuffix(r.Path, "/")
	if name == "" {
		return "*"
	}
	return name
}

// compile checks the route and fills defaults.
func (r *Route) compile() error {
	if r.Path == "/" {
		r.Path = ""
	}
	r.Host = strings.ToLower(r.Host)
	r.Name = r.EffectiveName()
	u, err := url.Parse(r.Upstream)
	if err != nil {
		return fmt.Errorf("route %q: upstream: %w", r.Name, err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" || u.Host == "" {
		return fmt.Errorf("route %q: upstream %q must be a ws:// or wss:// URL with a host", r.Name, r.Upstream)
	}
	if u.User != nil || u.Fragment != "" {
		return fmt.Errorf("route %q: upstream URL may not carry credentials or a fragment", r.Name)
	}
	r.upstream = u
	if r.UpstreamPSK != nil && (r.UpstreamTLS != nil || u.Scheme != "wss") {
		return fmt.Errorf("route %q: a PSK upstream must be wss:// and has no certificate verification (UpstreamTLS)", r.Name)
	}
	if r.Path != "" && (!strings.HasPrefix(r.Path, "/") || strings.HasSuffix(r.Path, "/")) {
		return fmt.Errorf("route %q: path %q must start with / and not end with one", r.Name, r.Path)
	}
	if r.UpstreamTimeout <= 0 {
		r.UpstreamTimeout = 30 * time.Second
	}
	if r.OutgoingFrameSize <= 0 {
		r.OutgoingFrameSize = ws.DefaultOutgoingFrameSize
	}
	if r.MaxTinyFrameRate == 0 {
		r.MaxTinyFrameRate = DefaultMaxTinyFrameRate
	}
	if r.MaxControlRate == 0 {
		r.MaxControlRate = DefaultMaxControlRate
	}
	if r.PingInterval == 0 {
		r.PingInterval = DefaultPingInterval
	}
	if r.PingInterval > 0 && r.PongTimeout <= 0 {
		r.PongTimeout = r.PingInterval
	}
	for i, o := range r.AllowedOrigins {
		r.AllowedOrigins[i] = strings.ToLower(strings.TrimSuffix(o, "/"))
	}
	return nil
}

// matches reports whether the route serves host and path, and how
// specific the match is.
func (r *Route) matches(host, path string) (bool, int) {
	if r.Host != "" && r.Host != host {
		return false, 0
	}
	if r.Path != "" && path != r.Path && !strings.HasPrefix(path, r.Path+"/") {
		return false, 0
	}
	score := len(r.Path) * 2
	if r.Host != "" {
		score++
	}
	return true, score
}

// target returns the upstream URL for a request URL.
func (r *Route) target(req *url.URL) string {
	u := *r.upstream
	p := req.Path
	if r.StripPath {
		p = strings.TrimPrefix(p, r.Path)
	}
	if p != "" && p != "/" || u.Path == "" {
		u.Path = strings.TrimSuffix(u.Path, "/") + p
	}
	if u.Path == "" {
		u.Path = "/"
	}
	u.RawPath = ""
	switch {
	case u.RawQuery == "":
		u.RawQuery = req.RawQuery
	case req.RawQuery != "":
		u.RawQuery += "&" + req.RawQuery
	}
	return u.String()
}

// originAllowed applies the allow-list: with one configured, a request
// must carry an allowed Origin (blocking cross-site WebSocket hijacking).
func (r *Route) originAllowed(req *http.Request) error {
	if len(r.AllowedOrigins) == 0 {
		return nil
	}
	o := strings.ToLower(req.Header.Get("Origin"))
	if o == "" {
		return fmt.Errorf("no Origin header")
	}
	for _, a := range r.AllowedOrigins {
		if a == o {
			return nil
		}
	}
	return fmt.Errorf("origin %q is not allowed", req.Header.Get("Origin"))
}

// checkPath refuses a request path that is not in canonical form: one a
// server could read as another path, escaping the route that matched it
// (/api/../admin matches /api, and many upstreams serve it as /admin).
// Dot segments ("." and "..", also percent-encoded), empty segments
// ("//", but a trailing "/" is fine), backslashes and percent-encoded
// slashes and backslashes (%2F, %5C) are refused, never cleaned: a
// client that sends them is not a browser, and a cleaned path that the
// upstream would not see the same way helps nobody. Other percent-encoded
// characters pass unchanged.
func checkPath(u *url.URL) error {
	raw := u.EscapedPath()
	if strings.ContainsRune(u.Path, '\\') || strings.ContainsRune(raw, '\\') {
		return errors.New("a backslash in the path")
	}
	lower := strings.ToLower(raw)
	if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") {
		return errors.New("an encoded slash or backslash (%2F, %5C) in the path")
	}
	segs := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	for i, seg := range segs {
		switch {
		case seg == "." || seg == "..":
			return errors.New("a dot segment (/./ or /../) in the path")
		case seg == "" && i != len(segs)-1:
			return errors.New("an empty segment (//) in the path")
		}
	}
	return nil
}
