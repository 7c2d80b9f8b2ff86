package ws

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// DialOptions configure the client side of the opening handshake. A nil
// *DialOptions means defaults; Dial copies it.
type DialOptions struct {
	// Options configure the connection once open.
	Options
	// Header holds extra request headers (Origin, Authorization, …).
	// Values with CR, LF or NUL are refused before anything is sent.
	Header http.Header
	// Subprotocols are offered in Sec-WebSocket-Protocol, in order.
	Subprotocols []string
	// Extensions is offered verbatim in Sec-WebSocket-Extensions. The
	// server's answer is returned verbatim by Conn.Extensions, and
	// reserved bits on frames are then passed through: the caller owns the
	// extension (a relay passes it end to end).
	Extensions string
	// NetDial opens the transport connection; nil uses net.Dialer. A
	// proxy-traversing dialer (HTTP CONNECT, SOCKS5) plugs in here.
	NetDial func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLSConfig is used for wss URLs; nil means system roots. Its
	// ServerName defaults to the URL's host.
	TLSConfig *tls.Config
	// TLSClient, if set, replaces the TLS handshake for wss URLs (a PSK
	// stack plugs in here): it gets the transport connection and the
	// server name and returns the secured connection.
	TLSClient func(ctx context.Context, nc net.Conn, serverName string) (net.Conn, error)
	// HandshakeTimeout bounds dialing and both handshakes. 0 means
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// MaxHeaderBytes bounds the response head. 0 means DefaultMaxHeaderBytes.
	MaxHeaderBytes int
}

// Dial opens a WebSocket connection to a ws:// or wss:// URL (Qt open).
// The URL and every header are checked before any byte is sent: CR, LF or
// NUL anywhere is an error. A refused handshake returns a *HandshakeError
// and the response (its body read, at most 4 KiB). ctx bounds the whole
// opening; cancelling it later does not affect the open connection.
func Dial(ctx context.Context, rawURL string, opts *DialOptions) (*Conn, *http.Response, error) {
	var o DialOptions
	if opts != nil {
		o = *opts
	}
	o.HandshakeTimeout, o.MaxHeaderBytes = handshakeLimits(o.HandshakeTimeout, o.MaxHeaderBytes)
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, nil, err
	}
	if err := checkExtraHeader(o.Header); err != nil {
		return nil, nil, err
	}
	for _, p := range o.Subprotocols {
		if !IsToken(p) {
			return nil, nil, fmt.Errorf("%w: invalid subprotocol %q", ErrBadHandshake, p)
		}
	}
	if err := checkHeaderValue("Sec-WebSocket-Extensions", o.Extensions); err != nil {
		return nil, nil, err
	}

	ctx, cancel := context.WithTimeout(ctx, o.HandshakeTimeout)
	defer cancel()
	nc, err := dialTransport(ctx, u, &o)
	if err != nil {
		return nil, nil, err
	}
	c, resp, err := clientHandshake(ctx, nc, u, &o)
	if err != nil {
		_ = nc.Close()
		return nil, resp, err
	}
	return c, resp, nil
}

// parseURL checks a WebSocket URL (RFC 6455 §3).
func parseURL(rawURL string) (*url.URL, error) {
	if i := strings.IndexAny(rawURL, "\r\n\x00"); i >= 0 {
		return nil, fmt.Errorf("%w: URL contains control character 0x%02x", ErrBadHandshake, rawURL[i])
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadHandshake, err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, fmt.Errorf("%w: URL scheme must be ws or wss, not %q", ErrBadHandshake, u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%w: URL %q has no host", ErrBadHandshake, rawURL)
	}
	if u.Fragment != "" || strings.Contains(rawURL, "#") {
		return nil, fmt.Errorf("%w: a WebSocket URL may not have a fragment", ErrBadHandshake)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: credentials in the URL are not sent; use an Authorization header", ErrBadHandshake)
	}
	return u, nil
}

// hostPort returns the URL's host with the scheme's default port.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "wss" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// dialTransport opens TCP (through NetDial) and, for wss, TLS.
func dialTransport(ctx context.Context, u *url.URL, o *DialOptions) (net.Conn, error) {
	dial := o.NetDial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	addr := hostPort(u)
	nc, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ws: dialing %s: %w", addr, err)
	}
	if u.Scheme != "wss" {
		return nc, nil
	}
	if o.TLSClient != nil {
		tc, err := o.TLSClient(ctx, nc, u.Hostname())
		if err != nil {
			_ = nc.Close()
			return nil, fmt.Errorf("ws: TLS handshake with %s: %w", addr, err)
		}
		return tc, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.TLSConfig != nil {
		cfg = o.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = u.Hostname()
	}
	if len(cfg.NextProtos) == 0 {
		cfg.NextProtos = []string{"http/1.1"}
	}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("ws: TLS handshake with %s: %w", addr, err)
	}
	return tc, nil
}

// clientHandshake sends the opening request and checks the response
// (RFC 6455 §4.1).
func clientHandshake(ctx context.Context, nc net.Conn, u *url.URL, o *DialOptions) (*Conn, *http.Response, error) {
	if d, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req := &http.Request{
		Method:     http.MethodGet,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     o.Header.Clone(),
		Host:       u.Host,
	}
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if h := req.Header.Get("Host"); h != "" {
		req.Host = h
		req.Header.Del("Host")
	}
	bw := bufio.NewWriterSize(nc, 1024)
	fmt.Fprintf(bw, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n",
		u.RequestURI(), req.Host, key)
	if len(o.Subprotocols) > 0 {
		fmt.Fprintf(bw, "Sec-WebSocket-Protocol: %s\r\n", strings.Join(o.Subprotocols, ", "))
	}
	if o.Extensions != "" {
		fmt.Fprintf(bw, "Sec-WebSocket-Extensions: %s\r\n", o.Extensions)
	}
	writeHeader(bw, req.Header)
	bw.WriteString("\r\n")
	if err := bw.Flush(); err != nil {
		return nil, nil, fmt.Errorf("ws: sending handshake request: %w", ctxErr(ctx, err))
	}

	lim := &headLimiter{r: nc, n: int64(o.MaxHeaderBytes), limit: true}
	br, pooled := handshakeReader(lim, o.ReadBufferSize)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		if lim.exceeded() {
			return nil, nil, fmt.Errorf("%w: response head exceeds %d bytes", ErrBadHandshake, o.MaxHeaderBytes)
		}
		return nil, nil, fmt.Errorf("%w: reading response: %w", ErrBadHandshake, ctxErr(ctx, err))
	}
	lim.limit = false
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		resp.Body = io.NopCloser(strings.NewReader(string(body)))
		reason := strings.TrimSpace(string(body))
		if reason == "" {
			reason = "server refused the upgrade"
		}
		return nil, resp, &HandshakeError{Status: resp.StatusCode, Reason: reason}
	}
	bad := func(format string, args ...any) (*Conn, *http.Response, error) {
		return nil, resp, &HandshakeError{Status: resp.StatusCode, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case !headerHasToken(resp.Header, "Upgrade", "websocket"):
		return bad("response Upgrade header is %q, want websocket", resp.Header.Get("Upgrade"))
	case !headerHasToken(resp.Header, "Connection", "upgrade"):
		return bad("response Connection header lacks the upgrade token")
	case resp.Header.Get("Sec-WebSocket-Accept") != AcceptKey(key):
		return bad("Sec-WebSocket-Accept does not match the key sent")
	}
	sub := resp.Header.Get("Sec-WebSocket-Protocol")
	if sub != "" && !slices.Contains(o.Subprotocols, sub) {
		return bad("server selected subprotocol %q, which was not offered", sub)
	}
	ext := strings.Join(resp.Header.Values("Sec-WebSocket-Extensions"), ", ")
	if ext != "" && o.Extensions == "" {
		return bad("server selected extensions %q, but none were offered", ext)
	}
	// The context's watch must be off before the deadline is cleared, or a
	// cancellation racing with the end of the handshake could poison the
	// open connection's deadline.
	if !stop() {
		return nil, resp, fmt.Errorf("%w: %w", ErrBadHandshake, ctx.Err())
	}
	_ = nc.SetDeadline(time.Time{})
	c := newConn(nc, br, pooled, true, &o.Options)
	c.keepHandshake(req, resp)
	c.url = u
	c.subprotocol = sub
	c.extensions = ext
	c.open()
	return c, resp, nil
}

// ctxErr prefers the context's error when it ended the operation.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return err
}

// isTLS reports whether nc is a TLS connection (crypto/tls or any type
// with the same ConnectionState method).
func isTLS(nc net.Conn) bool {
	_, ok := nc.(interface{ ConnectionState() tls.ConnectionState })
	return ok
}
