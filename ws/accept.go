package ws

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// AcceptOptions configure the server side of the opening handshake. A nil
// *AcceptOptions means defaults; Accept copies it.
type AcceptOptions struct {
	// Options configure the connection once open.
	Options
	// Subprotocols are the subprotocols the server speaks, in order of
	// preference; Accept selects the first the client offers. Empty: none.
	Subprotocols []string
	// CheckOrigin, if set, decides whether the request's Origin is allowed;
	// an error rejects the handshake with 403 and that reason. nil allows
	// every origin (origin rules belong to the application or the proxy).
	CheckOrigin func(r *http.Request) error
	// ResponseHeader holds extra headers for the 101 response.
	ResponseHeader http.Header
	// HandshakeTimeout bounds reading the request on a raw connection
	// (ReadUpgrade). 0 means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// MaxHeaderBytes bounds the request head on a raw connection. 0 means
	// DefaultMaxHeaderBytes.
	MaxHeaderBytes int
}

func (o *AcceptOptions) withDefaults() AcceptOptions {
	var c AcceptOptions
	if o != nil {
		c = *o
	}
	c.HandshakeTimeout, c.MaxHeaderBytes = handshakeLimits(c.HandshakeTimeout, c.MaxHeaderBytes)
	return c
}

// HandshakeError is a refused opening handshake: the HTTP status answered
// (server) or received (client) and why.
type HandshakeError struct {
	Status int
	Reason string
}

// Error describes the refusal.
func (e *HandshakeError) Error() string {
	return fmt.Sprintf("%s: %d %s: %s", ErrBadHandshake, e.Status, http.StatusText(e.Status), e.Reason)
}

// Unwrap lets errors.Is(err, ErrBadHandshake) match.
func (e *HandshakeError) Unwrap() error { return ErrBadHandshake }

// Upgrade is a valid opening handshake request that has not been answered
// yet. A proxy inspects it, opens its upstream, then calls Accept with the
// upstream's choices, or Reject.
type Upgrade struct {
	// Request is the client's request.
	Request *http.Request
	// Subprotocols are the subprotocols the client offered, in order.
	Subprotocols []string
	// Extensions is the client's Sec-WebSocket-Extensions offer, verbatim
	// (values joined with ", ").
	Extensions string

	key      string
	opts     AcceptOptions
	w        http.ResponseWriter // net/http server
	nc       net.Conn            // raw connection
	br       *bufio.Reader
	brPooled bool // br is from the read buffer pool
	answered bool
	// watching: a WatchPeer goroutine may be reading br (until its stop
	// returns); br is then never given back to the pool.
	watching atomic.Bool
}

// Accept upgrades an HTTP request served by net/http to a WebSocket
// connection: it validates the request (RFC 6455 §4.2.1), selects a
// subprotocol from opts.Subprotocols, negotiates no extension, hijacks the
// connection and answers 101. An invalid request is answered with 400
// (405 for another method than GET, 426 for a wrong version, 403 for a
// refused origin) and a reason, and an error wrapping ErrBadHandshake is
// returned. Requests net/http's parser lets through get ReadUpgrade's
// answers: a request target that is not a path or has a #fragment, a
// body (Content-Length other than 0, Transfer-Encoding), a malformed or
// missing Host all get 400.
func Accept(w http.ResponseWriter, r *http.Request, opts *AcceptOptions) (*Conn, error) {
	u, err := NewUpgrade(w, r, opts)
	if err != nil {
		return nil, err
	}
	// Not r.Context() as it is: net/http cancels it when it reads the end
	// of the client's stream, and a client that half-closes after its
	// request would get its 101 or nothing depending on which came first.
	// The handshake timeout bounds the answer.
	return u.Accept(context.WithoutCancel(r.Context()), u.SelectSubprotocol(), "", nil)
}

// NewUpgrade validates a request served by net/http without answering it;
// see Upgrade. An invalid request is answered with an error status.
func NewUpgrade(w http.ResponseWriter, r *http.Request, opts *AcceptOptions) (*Upgrade, error) {
	u := &Upgrade{Request: r, opts: opts.withDefaults(), w: w}
	if err := u.validate(); err != nil {
		return nil, err
	}
	return u, nil
}

// ReadUpgrade reads and validates an opening handshake request from a raw
// connection (TCP, TLS or PSK) without answering it; see Upgrade. The read
// is bounded by opts.MaxHeaderBytes (431 beyond it) and by
// opts.HandshakeTimeout and ctx. An invalid request is answered with an
// error status and a reason, and the connection is closed: 400 for a
// malformed head, 405 for another method than GET, 505 for another HTTP
// version than 1.x, 426 for a missing upgrade, 431 for an oversized head.
// The head is parsed strictly, refusing what a lenient parser and the next
// hop could read differently (request smuggling): CRLF line
// endings, no obsolete line folding, no control characters, no space
// before a header's colon, one Host, a path as the request target (no
// absolute-form, no #fragment), and no body (Transfer-Encoding, more than
// one Content-Length, or one other than 0). A connection closed or timed
// out before any byte arrived is closed without an answer.
func ReadUpgrade(ctx context.Context, nc net.Conn, opts *AcceptOptions) (*Upgrade, error) {
	o := opts.withDefaults()
	deadline := time.Now().Add(o.HandshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = nc.SetDeadline(deadline)
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
		defer stop()
	}
	lim := &headLimiter{r: nc, n: int64(o.MaxHeaderBytes), limit: true}
	br, pooled := handshakeReader(lim, o.ReadBufferSize)
	u := &Upgrade{opts: o, nc: nc, br: br, brPooled: pooled}
	head, err := readHead(br)
	if err != nil {
		var rerr *requestError
		switch {
		case errors.As(err, &rerr):
			return nil, u.refuse(rerr.status, rerr.reason)
		case lim.exceeded():
			return nil, u.refuse(http.StatusRequestHeaderFieldsTooLarge, "request head exceeds "+strconv.Itoa(o.MaxHeaderBytes)+" bytes")
		case ctx.Err() != nil:
			err = ctx.Err()
		case len(head) > 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
			return nil, u.refuse(http.StatusBadRequest, "request ends before its head does")
		}
		// Nothing arrived, the client went away or timed out: there is
		// nobody to answer.
		_ = nc.Close()
		return nil, fmt.Errorf("%w: reading request: %w", ErrBadHandshake, err)
	}
	lim.limit = false
	// A reader sized to the head, not bufio's 4 KiB default: this runs
	// for every connection.
	req, err := http.ReadRequest(bufio.NewReaderSize(bytes.NewReader(head), len(head)))
	if err != nil {
		// readHead checked the syntax; what is left is mostly a target
		// that is no URI (GET /%zz). The reason is bounded.
		reason := "malformed request: " + err.Error()
		return nil, u.refuse(http.StatusBadRequest, reason[:min(len(reason), 200)])
	}
	req.RemoteAddr = nc.RemoteAddr().String()
	u.Request = req
	if err := u.validate(); err != nil {
		return nil, err
	}
	return u, nil
}

// validate applies RFC 6455 §4.2.1 to the request and answers failures.
// Accept (behind net/http's parser) and ReadUpgrade (behind readHead)
// share it, so both servers give a request the same answer.
func (u *Upgrade) validate() error {
	r := u.Request
	target := r.RequestURI
	if target == "" {
		target = r.URL.RequestURI()
	}
	switch {
	case r.Method != http.MethodGet:
		return u.refuse(http.StatusMethodNotAllowed, "a WebSocket handshake must use GET, not "+r.Method)
	case r.ProtoMajor != 1:
		return u.refuse(http.StatusHTTPVersionNotSupported, "HTTP version "+strconv.Itoa(r.ProtoMajor)+"."+strconv.Itoa(r.ProtoMinor)+" is not supported: a WebSocket handshake uses HTTP/1.1")
	case !r.ProtoAtLeast(1, 1):
		return u.refuse(http.StatusBadRequest, "a WebSocket handshake needs HTTP/1.1 or later, not "+r.Proto)
	case !strings.HasPrefix(target, "/"):
		return u.refuse(http.StatusBadRequest, "the request target must be a path (origin-form), not a URL, authority or *")
	case strings.Contains(target, "#"):
		return u.refuse(http.StatusBadRequest, "the request target may not carry a #fragment")
	case r.Host == "":
		return u.refuse(http.StatusBadRequest, "missing Host header")
	case !validHost(r.Host):
		return u.refuse(http.StatusBadRequest, "malformed Host header")
	case r.ContentLength != 0 || len(r.TransferEncoding) > 0:
		return u.refuse(http.StatusBadRequest, "a WebSocket handshake request has no body")
	}
	for name, vs := range r.Header {
		if !IsToken(name) {
			return u.refuse(http.StatusBadRequest, "invalid header name")
		}
		for _, v := range vs {
			if checkHeaderValue(name, v) != nil {
				return u.refuse(http.StatusBadRequest, "control character in a header value")
			}
		}
	}
	switch {
	case !headerHasToken(r.Header, "Connection", "upgrade"):
		return u.refuse(http.StatusUpgradeRequired, "Connection header lacks the upgrade token")
	case !headerHasToken(r.Header, "Upgrade", "websocket"):
		return u.refuse(http.StatusUpgradeRequired, "Upgrade header lacks the websocket token")
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return u.refuse(http.StatusUpgradeRequired, "unsupported Sec-WebSocket-Version "+strconv.Quote(r.Header.Get("Sec-WebSocket-Version"))+", want 13")
	}
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return u.refuse(http.StatusBadRequest, "want exactly one Sec-WebSocket-Key header")
	}
	if k, err := base64.StdEncoding.DecodeString(keys[0]); err != nil || len(k) != 16 {
		return u.refuse(http.StatusBadRequest, "Sec-WebSocket-Key is not 16 bytes in base64")
	}
	u.key = keys[0]
	if u.opts.CheckOrigin != nil {
		if err := u.opts.CheckOrigin(r); err != nil {
			return u.refuse(http.StatusForbidden, "origin refused: "+err.Error())
		}
	}
	u.Subprotocols = headerTokens(r.Header, "Sec-WebSocket-Protocol")
	u.Extensions = strings.Join(r.Header.Values("Sec-WebSocket-Extensions"), ", ")
	return nil
}

// SelectSubprotocol returns the first of AcceptOptions.Subprotocols the
// client offered, or "".
func (u *Upgrade) SelectSubprotocol() string {
	for _, p := range u.opts.Subprotocols {
		if slices.Contains(u.Subprotocols, p) {
			return p
		}
	}
	return ""
}

// Accept answers 101 with the given subprotocol (one the client offered, or
// "") and extensions (a Sec-WebSocket-Extensions value, verbatim, or "";
// when set, reserved bits are allowed on frames and passed through), and
// returns the open connection, configured by opts: nil means
// AcceptOptions.Options (a proxy passes the limits of the route it chose
// after reading the request). opts is copied. Writing the answer is
// bounded by AcceptOptions.HandshakeTimeout and by ctx; cancelling ctx
// meanwhile closes the connection. ctx is not kept: the connection's
// later calls take their own contexts (see Conn.BindContext).
func (u *Upgrade) Accept(ctx context.Context, subprotocol, extensions string, opts *Options) (*Conn, error) {
	if u.answered {
		return nil, errors.New("ws: handshake already answered")
	}
	if subprotocol != "" && !slices.Contains(u.Subprotocols, subprotocol) {
		return nil, fmt.Errorf("%w: subprotocol %q was not offered by the client", ErrBadHandshake, subprotocol)
	}
	if err := checkHeaderValue("Sec-WebSocket-Extensions", extensions); err != nil {
		return nil, err
	}
	if err := checkExtraHeader(u.opts.ResponseHeader); err != nil {
		return nil, err
	}
	u.answered = true
	nc, br, pooled := u.nc, u.br, u.brPooled
	if u.w != nil {
		hj, brw, err := http.NewResponseController(u.w).Hijack()
		if err != nil {
			http.Error(u.w, "WebSocket upgrade impossible: connection cannot be hijacked", http.StatusInternalServerError)
			return nil, fmt.Errorf("ws: hijacking the HTTP connection: %w", err)
		}
		nc, br, pooled = hj, brw.Reader, false
	}
	if err := u.writeAccept(ctx, nc, subprotocol, extensions); err != nil {
		_ = nc.Close()
		return nil, err
	}
	if opts == nil {
		opts = &u.opts.Options
	}
	c := newConn(nc, br, pooled, false, opts)
	u.br = nil
	c.keepHandshake(u.Request, nil)
	c.subprotocol = subprotocol
	c.extensions = extensions
	c.url = requestURL(u.Request, nc)
	c.open()
	return c, nil
}

// writeAccept writes the 101 response (RFC 6455 §4.2.2) within the
// handshake timeout and ctx, then clears the server's deadlines (and ours
// on a raw connection): the connection's own bounds apply from here on.
func (u *Upgrade) writeAccept(ctx context.Context, nc net.Conn, subprotocol, extensions string) error {
	deadline := time.Now().Add(u.opts.HandshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = nc.SetReadDeadline(time.Time{})
	_ = nc.SetWriteDeadline(deadline)
	stop := func() bool { return true }
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { _ = nc.SetWriteDeadline(time.Unix(1, 0)) })
	}
	bw := bufio.NewWriterSize(nc, 512)
	fmt.Fprintf(bw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n", AcceptKey(u.key))
	if subprotocol != "" {
		fmt.Fprintf(bw, "Sec-WebSocket-Protocol: %s\r\n", subprotocol)
	}
	if extensions != "" {
		fmt.Fprintf(bw, "Sec-WebSocket-Extensions: %s\r\n", extensions)
	}
	writeHeader(bw, u.opts.ResponseHeader)
	bw.WriteString("\r\n")
	err := bw.Flush()
	if !stop() {
		// ctx ended: its watch has moved, or is moving, the deadline.
		return fmt.Errorf("ws: writing handshake response: %w", context.Cause(ctx))
	}
	if err != nil {
		return fmt.Errorf("ws: writing handshake response: %w", err)
	}
	_ = nc.SetWriteDeadline(time.Time{})
	return nil
}

// Reject answers the handshake with an HTTP error status and reason, and
// closes a raw connection.
func (u *Upgrade) Reject(status int, reason string) error {
	if u.answered {
		return errors.New("ws: handshake already answered")
	}
	err := u.refuse(status, reason)
	var herr *HandshakeError
	if errors.As(err, &herr) {
		return nil
	}
	return err
}

// refuse answers an error status and returns a *HandshakeError.
func (u *Upgrade) refuse(status int, reason string) error {
	u.answered = true
	herr := &HandshakeError{Status: status, Reason: reason}
	if u.w != nil {
		if status == http.StatusUpgradeRequired {
			u.w.Header().Set("Sec-WebSocket-Version", "13")
		}
		http.Error(u.w, reason, status)
		return herr
	}
	defer u.nc.Close()
	defer u.releaseReader()
	_ = u.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	bw := bufio.NewWriterSize(u.nc, 512)
	body := reason + "\n"
	fmt.Fprintf(bw, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n", status, http.StatusText(status), len(body))
	if status == http.StatusUpgradeRequired {
		bw.WriteString("Sec-WebSocket-Version: 13\r\n")
	}
	bw.WriteString("\r\n")
	bw.WriteString(body)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("%w (and answering it failed: %w)", herr, err)
	}
	return herr
}

// releaseReader gives a refused handshake's read buffer back to the pool
// (nothing more is read from the connection), unless a WatchPeer
// goroutine may still use it.
func (u *Upgrade) releaseReader() {
	if u.br != nil && u.brPooled && !u.watching.Load() {
		u.br.Reset(nil)
		readerPool.Put(u.br)
	}
	u.br = nil
}

// requestURL rebuilds the ws:// or wss:// URL a server connection was
// opened with.
func requestURL(r *http.Request, nc net.Conn) *url.URL {
	u := *r.URL
	u.Scheme = "ws"
	if r.TLS != nil || isTLS(nc) {
		u.Scheme = "wss"
	}
	u.Host = r.Host
	return &u
}

// WatchPeer watches the client of a raw connection (ReadUpgrade) while
// the application decides how to answer it, as a proxy does while it
// opens its upstream: gone is called with the read's error if the client
// hangs up (FIN, TLS close_notify, reset) before until. Bytes the client
// sends meanwhile stay buffered for the connection, unread: a client that
// pipelines frames behind its request loses nothing (the watch ends when
// the read buffer is full). stop ends the watch and returns once it has
// ended; call it before Accept or Reject. The watch runs on one goroutine
// and uses the connection's read deadline, which stop clears.
func (u *Upgrade) WatchPeer(until time.Time, gone func(error)) (stop func()) {
	if u.nc == nil || u.br == nil {
		return func() {}
	}
	_ = u.nc.SetReadDeadline(until)
	u.watching.Store(true)
	var stopping atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			n := u.br.Buffered() + 1
			if n > u.br.Size() {
				return // a full buffer: the handshake's own bounds apply
			}
			_, err := u.br.Peek(n)
			if err == nil {
				continue
			}
			var ne net.Error
			if stopping.Load() || errors.As(err, &ne) && ne.Timeout() {
				return
			}
			gone(err)
			return
		}
	}()
	return func() {
		stopping.Store(true)
		_ = u.nc.SetReadDeadline(time.Unix(1, 0))
		<-done
		u.watching.Store(false)
		_ = u.nc.SetReadDeadline(time.Time{})
	}
}
