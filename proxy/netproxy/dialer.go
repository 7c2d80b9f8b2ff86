package netproxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/rs/zerolog"
)

// Defaults of [Options].
const (
	// DefaultTimeout bounds connecting to the proxy plus the proxy
	// handshake, when the context has no earlier deadline.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxResponseHeaderBytes bounds an HTTP proxy's response head
	// (status line and headers).
	DefaultMaxResponseHeaderBytes = 16 << 10
	// maxAuthAttempts bounds how often Options.Auth is asked per dial.
	maxAuthAttempts = 3
)

// DialFunc is the signature of net.Dialer.DialContext, as taken by
// ws.DialOptions.NetDial and certs.ProbeOptions.Dial.
type DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// Challenge describes a proxy's request for credentials, given to
// [AuthFunc].
type Challenge struct {
	// Proxy is the proxy URL without user information.
	Proxy string
	// Scheme is the authentication scheme the credentials will be used
	// for: for HTTP proxies the strongest offered one that takes a user
	// name and password (NTLM, Digest, Basic; Negotiate when Kerberos is
	// configured without a keytab or credentials cache), for SOCKS5
	// "username/password" (RFC 1929). For NTLM the user may be
	// DOMAIN\user.
	Scheme string
	// Schemes lists every scheme the HTTP proxy offered, e.g.
	// ["Negotiate", "NTLM", "Basic"].
	Schemes []string
	// Realm is the realm of the Basic or Digest challenge, if the proxy
	// sent one.
	Realm string
	// Attempt counts the calls for this dial, from 1. It is greater than 1
	// when the previous credentials were refused.
	Attempt int
}

// AuthFunc supplies proxy credentials on demand, like Qt's
// proxyAuthenticationRequired signal. It is called when a proxy asks for
// credentials and the URL has none, or refused them; at most 3 times per
// dial. ctx is the dial's, bounded by Options.Timeout: an interactive
// prompt needs a Timeout to match. Returning an error abandons the dial
// with that error.
type AuthFunc func(ctx context.Context, c Challenge) (user, pass string, err error)

// Options configures a [Dialer]. The zero value (or nil) is valid.
type Options struct {
	// Auth supplies credentials when the proxy asks for them; nil means
	// only the URL's credentials are used.
	Auth AuthFunc
	// Kerberos enables Negotiate (SPNEGO/Kerberos) towards an HTTP proxy
	// that offers it; nil means no Negotiate (KerberosFromEnvironment
	// gives the environment's settings).
	Kerberos *Kerberos
	// Schemes restricts the HTTP authentication schemes used (SchemeBasic,
	// SchemeDigest, SchemeNTLM, SchemeNegotiate; case-insensitive). nil
	// means any (curl's --proxy-anyauth): the dialer waits for the
	// proxy's 407 and answers the strongest challenge it holds
	// credentials for, Negotiate > NTLM > Digest > Basic, and sends
	// Basic to an http:// proxy (where it travels in clear) only when
	// Basic is the only scheme offered.
	//
	// Listing SchemeBasic is what "configured for Basic" means: Basic is
	// then also sent when the proxy offers others that the dialer cannot
	// use. Exactly [SchemeBasic] sends the URL's credentials with the
	// first CONNECT, without waiting for a 407 (curl's --proxy-basic).
	Schemes []string
	// TLSConfig is used to reach an https:// proxy; nil means the system
	// roots. Its ServerName defaults to the proxy's host name and its
	// NextProtos to http/1.1. It is not used for the target.
	TLSConfig *tls.Config
	// Dial opens the TCP connection to the proxy; nil means a net.Dialer.
	// FromEnvironment also uses it for direct connections.
	Dial DialFunc
	// Timeout bounds connecting to the proxy and the proxy handshake when
	// ctx has no earlier deadline; zero means DefaultTimeout.
	Timeout time.Duration
	// MaxResponseHeaderBytes bounds an HTTP proxy's response head; zero
	// means DefaultMaxResponseHeaderBytes.
	MaxResponseHeaderBytes int
	// Header holds extra CONNECT request headers, e.g. User-Agent. Host
	// and Proxy-Authorization are set by the Dialer.
	Header http.Header
	// Resolver resolves target names for socks5:// proxies (socks5h://
	// leaves that to the proxy); nil means net.DefaultResolver.
	Resolver *net.Resolver
	// Logger receives a debug line per tunnel. Credentials are never
	// logged. The zero value logs nothing.
	Logger zerolog.Logger
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
		c.Header = o.Header.Clone()
		c.Schemes = append([]string(nil), o.Schemes...)
		if o.Kerberos != nil {
			k := *o.Kerberos
			c.Kerberos = &k
		}
		if o.TLSConfig != nil {
			c.TLSConfig = o.TLSConfig.Clone()
		}
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxResponseHeaderBytes <= 0 {
		c.MaxResponseHeaderBytes = DefaultMaxResponseHeaderBytes
	}
	if c.Dial == nil {
		d := &net.Dialer{}
		c.Dial = d.DialContext
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	return c
}

// Dialer opens TCP connections through one proxy. It is safe for
// concurrent use.
type Dialer struct {
	proxy *url.URL
	name  string // redacted proxy URL
	o     Options
}

// New returns a Dialer for the proxy URL u (see ParseURL for the accepted
// forms; u is copied). opts may be nil.
func New(u *url.URL, opts *Options) (*Dialer, error) {
	if u == nil {
		return nil, errors.New("netproxy: nil proxy URL")
	}
	pu, err := ParseURL(u.String())
	if err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	for i, s := range o.Schemes {
		c := canonicalScheme(s)
		if !isKnownScheme(c) {
			return nil, fmt.Errorf("netproxy: unknown authentication scheme %q (want Basic, Digest, NTLM or Negotiate)", printable(s))
		}
		o.Schemes[i] = c
	}
	return &Dialer{proxy: pu, name: Redact(pu), o: o}, nil
}

// Proxy returns the proxy URL without user information.
func (d *Dialer) Proxy() string { return d.name }

// credentials are a username and password for the proxy.
type credentials struct {
	user, pass string
	ok         bool
}

// authNeeded is returned by a handshake when the proxy wants credentials
// (other than those just offered).
type authNeeded struct {
	challenge Challenge
	err       error // what to return when no (more) credentials come
}

func (e *authNeeded) Error() string { return e.err.Error() }
func (e *authNeeded) Unwrap() error { return e.err }

// DialContext connects to addr (host:port) through the proxy. network
// must be "tcp", "tcp4" or "tcp6" (the last two matter for socks5://,
// which resolves names locally). Cancelling ctx, or reaching
// Options.Timeout, before DialContext returns closes the connection and
// fails the dial; afterwards ctx has no effect on the connection.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("netproxy: network %q not supported (want tcp)", network)
	}
	host, port, err := splitTarget(addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()

	creds := d.urlCredentials()
	if d.proxy.Scheme == "http" || d.proxy.Scheme == "https" {
		conn, err := d.dialHTTP(ctx, host, port, creds)
		if err == nil {
			d.o.Logger.Debug().Str("proxy", d.name).Str("target", addr).Msg("netproxy: tunnel established")
		}
		return conn, err
	}
	for attempt := 1; ; attempt++ {
		conn, err := d.tunnel(ctx, network, host, port, creds)
		var need *authNeeded
		if err == nil || !errors.As(err, &need) {
			if err == nil {
				d.o.Logger.Debug().Str("proxy", d.name).Str("target", addr).Msg("netproxy: tunnel established")
			}
			return conn, err
		}
		if d.o.Auth == nil || attempt > maxAuthAttempts {
			return nil, need.err
		}
		need.challenge.Proxy = d.name
		need.challenge.Attempt = attempt
		d.o.Logger.Debug().Str("proxy", d.name).Int("attempt", attempt).Msg("netproxy: proxy asks for credentials")
		user, pass, herr := d.o.Auth(ctx, need.challenge)
		if herr != nil {
			return nil, fmt.Errorf("netproxy: proxy %s: authentication hook: %w", d.name, herr)
		}
		creds = credentials{user: user, pass: pass, ok: true}
	}
}

// urlCredentials returns the proxy URL's user information.
func (d *Dialer) urlCredentials() credentials {
	var creds credentials
	if u := d.proxy.User; u != nil {
		creds.user = u.Username()
		creds.pass, _ = u.Password()
		creds.ok = true
	}
	return creds
}

// tunnel makes one attempt through a SOCKS5 proxy: connect to it and run
// its handshake.
func (d *Dialer) tunnel(ctx context.Context, network, host string, port uint16, creds credentials) (net.Conn, error) {
	raw, err := d.o.Dial(ctx, "tcp", proxyAddr(d.proxy))
	if err != nil {
		return nil, fmt.Errorf("netproxy: connecting to proxy %s: %w", d.name, err)
	}
	var conn net.Conn
	err = d.guard(ctx, raw, func() error {
		c := raw
		if d.proxy.Scheme == "https" {
			tc, err := d.tlsToProxy(ctx, raw)
			if err != nil {
				return err
			}
			c = tc
		}
		var err error
		conn, err = d.connectSOCKS5(ctx, c, network, host, port, creds)
		return err
	})
	if err != nil {
		raw.Close()
		return nil, err
	}
	return conn, nil
}

// guard runs a handshake on conn bounded by ctx: its deadline becomes the
// connection's, and cancelling it closes the connection. On success the
// deadline is cleared.
func (d *Dialer) guard(ctx context.Context, conn net.Conn, handshake func() error) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	err := handshake()
	if !stop() || (err != nil && ctx.Err() != nil) {
		return fmt.Errorf("netproxy: proxy %s: %w", d.name, context.Cause(ctx))
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The connection deadline (ctx's) fired just before ctx itself.
		return fmt.Errorf("netproxy: proxy %s: %w", d.name, context.DeadlineExceeded)
	}
	if err != nil {
		return err
	}
	return conn.SetDeadline(time.Time{})
}

// tlsToProxy runs the TLS handshake with an https:// proxy.
func (d *Dialer) tlsToProxy(ctx context.Context, raw net.Conn) (net.Conn, error) {
	cfg := d.o.TLSConfig.Clone()
	if cfg == nil {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = d.proxy.Hostname()
	}
	if cfg.NextProtos == nil {
		cfg.NextProtos = []string{"http/1.1"}
	}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("netproxy: TLS to proxy %s: %w", d.name, err)
	}
	return tc, nil
}

// bufferedConn is a net.Conn whose first bytes were already read into r.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) {
	if c.r.Buffered() > 0 {
		return c.r.Read(p)
	}
	return c.Conn.Read(p)
}

// CloseWrite half-closes the connection when the underlying one can.
func (c *bufferedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// wrapBuffered returns conn, or a bufferedConn when br holds bytes read
// past the handshake.
func wrapBuffered(conn net.Conn, br *bufio.Reader) net.Conn {
	if br.Buffered() == 0 {
		return conn
	}
	return &bufferedConn{Conn: conn, r: br}
}
