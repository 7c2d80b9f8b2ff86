package psk

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// One port for PSK devices and certificate clients: the Listener peeks at
// each ClientHello and hands it to this package or to crypto/tls.

// Listener accepts connections from an inner listener and returns them as
// *MuxConn, which route themselves on their first use: a ClientHello that
// offers an external PSK goes to this package's server, anything else to
// crypto/tls with the certificate configuration.
//
// A ClientHello is a PSK handshake when it carries pre_shared_key and
// either has no signature_algorithms (it cannot use certificates at all)
// or offers an identity the PSK configuration knows (its GetKey is asked;
// the answer is reused by the handshake). With TLS 1.2 PSK enabled
// (ServerConfig.MinVersion), a ClientHello offering an accepted TLS 1.2
// PSK suite and no suite crypto/tls implements is one too, as is, with
// ServerConfig.TLS12PreferPSK, any offering an accepted TLS 1.2 PSK suite;
// but not one that also offers TLS 1.3 while the PSK configuration allows
// TLS 1.3 (the PSK server would answer TLS 1.3 and refuse it: it goes to
// crypto/tls and its certificate). Browsers resuming a crypto/tls
// or other session also send pre_shared_key, with a ticket as identity:
// GetKey does not know it and they get the certificate handshake, as an
// OpenSSL server with PSK and certificates does.
type Listener struct {
	inner net.Listener
	psk   *ServerConfig
	cert  *tls.Config
}

// NewListener wraps inner. pskConfig is copied (nil: the zero
// ServerConfig, which knows no identity: PSK clients are refused);
// certConfig may be nil for a PSK-only port (every connection then goes
// to the PSK server). Neither is modified.
func NewListener(inner net.Listener, pskConfig *ServerConfig, certConfig *tls.Config) *Listener {
	return &Listener{inner: inner, psk: pskConfig.clone(), cert: certConfig}
}

// Accept waits for the next connection and returns it as a *MuxConn. It
// never reads from the connection: a slow client cannot block Accept.
func (l *Listener) Accept() (net.Conn, error) {
	nc, err := l.inner.Accept()
	if err != nil {
		return nil, err
	}
	return &MuxConn{raw: nc, l: l}, nil
}

// Mux wraps one accepted connection as NewListener's Accept does, for
// servers with an accept loop of their own (one that first reads a PROXY
// protocol header, say). The configurations are as for NewListener.
func Mux(conn net.Conn, pskConfig *ServerConfig, certConfig *tls.Config) *MuxConn {
	return &MuxConn{raw: conn, l: &Listener{psk: pskConfig.clone(), cert: certConfig}}
}

// Close closes the inner listener.
func (l *Listener) Close() error { return l.inner.Close() }

// Addr returns the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// MuxConn is a server connection that becomes a PSK *Conn or a *tls.Conn
// when its ClientHello arrives: on the first Read, Write or
// HandshakeContext. Deadlines apply to the underlying connection, so a
// deadline set before the first Read (as ws.ReadUpgrade does) bounds the
// routing and the handshake too; the PSK configuration's HandshakeTimeout
// bounds them as well, for both kinds of client.
//
// Routing never holds a lock while it reads the ClientHello or looks keys
// up: PSK, TLS, the addresses, the deadlines and Close answer at once
// meanwhile, and Close ends the routing (the key lookups' contexts are
// cancelled). Concurrent Read and Write calls wait for the one routing.
type MuxConn struct {
	raw net.Conn
	l   *Listener

	mu      sync.Mutex
	routing chan struct{} // closed when the route is decided; nil before the first call
	cancel  context.CancelFunc
	closed  bool
	err     error
	pskc    *Conn
	tlsc    *tls.Conn
	secured net.Conn    // pskc or tlsc once the handshake succeeded
	ready   atomic.Bool // secured is set
}

// HandshakeContext reads the ClientHello, routes the connection and runs
// the chosen handshake. Cancelling ctx closes the connection.
//
// The PSK configuration's HandshakeTimeout (default
// DefaultHandshakeTimeout) bounds the routing and the handshake together,
// for certificate clients too; Read and Write run the handshake the same
// way, so a client that stops mid-handshake is cut even without a
// deadline.
func (m *MuxConn) HandshakeContext(ctx context.Context) error {
	if m.ready.Load() {
		return nil
	}
	hctx, cancel := context.WithTimeout(ctx, m.l.handshakeTimeout())
	defer cancel()
	c, err := m.route(hctx)
	if err != nil {
		return err
	}
	if p, ok := c.(*Conn); ok {
		err = p.HandshakeContext(hctx)
	} else {
		err = c.(*tls.Conn).HandshakeContext(hctx)
	}
	if err == nil {
		m.mu.Lock()
		m.secured = c
		m.mu.Unlock()
		m.ready.Store(true)
	}
	return err
}

// secure runs the handshake if needed and returns the secured
// connection.
func (m *MuxConn) secure() (net.Conn, error) {
	if !m.ready.Load() {
		if err := m.HandshakeContext(context.Background()); err != nil {
			return nil, err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.secured, nil
}

func (l *Listener) handshakeTimeout() time.Duration {
	if t := l.psk.HandshakeTimeout; t > 0 {
		return t
	}
	return DefaultHandshakeTimeout
}

// NetConn returns the secured connection (the PSK stack's *Conn or a
// *tls.Conn) once the handshake is done, nil before: a reader waiting on
// the socket (ws) reaches it through this layer and the secured one.
func (m *MuxConn) NetConn() net.Conn {
	if !m.ready.Load() {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.secured
}

// PSK returns the PSK connection, or nil before routing or for a
// certificate client.
func (m *MuxConn) PSK() *Conn {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pskc
}

// TLS returns the crypto/tls connection, or nil before routing or for a
// PSK client.
func (m *MuxConn) TLS() *tls.Conn {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tlsc
}

// route peeks at the ClientHello once and builds the secured connection.
// The first caller routes, without holding m.mu; later callers wait for
// it (or their ctx).
func (m *MuxConn) route(ctx context.Context) (net.Conn, error) {
	m.mu.Lock()
	if m.routing != nil {
		done := m.routing
		m.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return nil, fmt.Errorf("psk: waiting for the ClientHello: %w", ctx.Err())
		}
		return m.result()
	}
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	m.routing = make(chan struct{})
	pctx, cancel := context.WithTimeout(ctx, m.l.handshakeTimeout())
	m.cancel = cancel
	m.mu.Unlock()
	defer cancel()

	r, err := m.decide(pctx)
	m.mu.Lock()
	if err == nil && m.closed {
		err = ErrClosed // Close came while routing
	}
	if err != nil {
		if ctxErr := pctx.Err(); ctxErr != nil && !errors.Is(err, ErrClosed) {
			err = fmt.Errorf("%w (%w)", err, ctxErr)
		}
		m.err = err
	} else {
		switch r := r.(type) {
		case pskRoute:
			m.pskc = r.Conn
		case tlsRoute:
			m.tlsc = r.Conn
		}
	}
	close(m.routing)
	m.mu.Unlock()
	if err != nil {
		if r != nil {
			r.release()
		}
		_ = m.raw.Close()
		return nil, err
	}
	return r.conn(), nil
}

// result returns the route decided by another caller.
func (m *MuxConn) result() (net.Conn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.err != nil:
		return nil, m.err
	case m.pskc != nil:
		return m.pskc, nil
	}
	return m.tlsc, nil
}

// routed is the outcome of decide: one of the two connections.
type routed interface {
	conn() net.Conn
	release()
}

type pskRoute struct{ *Conn }

func (r pskRoute) conn() net.Conn { return r.Conn }

// release drops the keys looked up for a route that was not taken.
func (r pskRoute) release() { r.Conn.releasePreKeys() }

type tlsRoute struct{ *tls.Conn }

func (r tlsRoute) conn() net.Conn { return r.Conn }
func (r tlsRoute) release()       {}

// decide reads the ClientHello (bounded by ctx: the socket is closed when
// it ends) and picks the route.
func (m *MuxConn) decide(ctx context.Context) (routed, error) {
	stop := context.AfterFunc(ctx, func() { _ = m.raw.Close() })
	defer stop()
	prefix, ch := peekClientHello(m.raw)
	if len(prefix) == 0 {
		// io.EOF, as crypto/tls: callers tell a peer that sent nothing
		// (a health check, a scan) from a failed handshake.
		return nil, fmt.Errorf("psk: connection closed before a ClientHello: %w", io.EOF)
	}
	pc := &prefixConn{Conn: m.raw, prefix: prefix}
	usePSK, cache, err := m.l.wantsPSK(ctx, ch)
	if err != nil {
		return nil, err
	}
	if !stop() {
		// The deadline or Close came during the lookups: the socket is
		// closed.
		cache.release()
		return nil, errors.New("psk: connection closed while routing")
	}
	if usePSK {
		c := newServer(pc, m.l.psk)
		c.preKeys = cache
		return pskRoute{c}, nil
	}
	return tlsRoute{tls.Server(pc, m.l.cert)}, nil
}

// wantsPSK decides the route; lookups made here are handed to the PSK
// handshake so that GetKey runs once per identity.
func (l *Listener) wantsPSK(ctx context.Context, ch *clientHelloMsg) (bool, *lookupCache, error) {
	if l.cert == nil {
		return true, nil, nil
	}
	if ch == nil {
		return false, nil, nil
	}
	if len(ch.identities) == 0 {
		return l.wantsPSK12(ch), nil, nil
	}
	if !ch.signatureAlgs {
		return true, nil, nil // cannot do certificates anyway
	}
	if l.psk.GetKey == nil {
		return false, nil, nil // no identity is known
	}
	// The lookups run without any lock held (see MuxConn.route). The
	// cache keeps copies: the PSK handshake zeroes them when it ends.
	cache := &lookupCache{keys: make(map[string][]byte)}
	for i, id := range ch.identities {
		if i == maxIdentities {
			break
		}
		if CheckIdentity(id.identity) != nil {
			continue
		}
		key, err := callGetKey(ctx, l.psk, id.identity)
		if err != nil {
			cache.release()
			return false, nil, fmt.Errorf("psk: routing: %w", err)
		}
		cache.keys[string(id.identity)] = slices.Clone(key)
		if len(key) > 0 {
			return true, cache, nil
		}
	}
	cache.release()
	return false, nil, nil
}

// wantsPSK12 routes a ClientHello without a TLS 1.3 pre_shared_key to
// the PSK server when TLS 1.2 PSK is enabled (MinVersion) and it offers
// one of the accepted TLS 1.2 PSK suites, and either no suite crypto/tls
// can serve with a certificate or TLS12PreferPSK is set. Browsers and
// other certificate clients offer no PSK suite (OpenSSL leaves them out
// unless a PSK callback is set). A client that also offers TLS 1.3 stays
// with crypto/tls unless the PSK configuration is limited to TLS 1.2
// (MaxVersion): the PSK server would have to answer it with TLS 1.3.
func (l *Listener) wantsPSK12(ch *clientHelloMsg) bool {
	lo, hi, err := versionRange(l.psk.MinVersion, l.psk.MaxVersion)
	if err != nil || lo > VersionTLS12 {
		return false
	}
	if hi >= VersionTLS13 && slices.Contains(ch.supportedVersions, VersionTLS13) {
		// The PSK server would answer TLS 1.3 and, without a
		// pre_shared_key, refuse it; crypto/tls serves it a certificate.
		return false
	}
	accepted := suites12For(l.psk.TLS12CipherSuites)
	psk, cert := false, false
	for _, id := range ch.cipherSuites {
		switch {
		case slices.Contains(accepted, id):
			psk = true
		case certificateSuite(id):
			cert = true
		}
	}
	return psk && (!cert || l.psk.TLS12PreferPSK)
}

// certificateSuite reports whether crypto/tls implements suite id.
func certificateSuite(id uint16) bool {
	for _, list := range [][]*tls.CipherSuite{tls.CipherSuites(), tls.InsecureCipherSuites()} {
		for _, s := range list {
			if s.ID == id {
				return true
			}
		}
	}
	return false
}

// peekClientHello reads the records that carry the first handshake
// message. It returns every byte read (to be replayed) and the parsed
// ClientHello, or nil when the bytes are not a well-formed ClientHello
// (crypto/tls then answers them).
func peekClientHello(r io.Reader) ([]byte, *clientHelloMsg) {
	var raw, msg []byte
	for {
		var hdr [recordHeaderLen]byte
		n, err := io.ReadFull(r, hdr[:])
		raw = append(raw, hdr[:n]...)
		if err != nil || hdr[0] != recordHandshake || hdr[1] != 3 {
			return raw, nil
		}
		size := int(hdr[3])<<8 | int(hdr[4])
		if size == 0 || size > maxPlaintext {
			return raw, nil
		}
		body := make([]byte, size)
		n, err = io.ReadFull(r, body)
		raw = append(raw, body[:n]...)
		if err != nil {
			return raw, nil
		}
		msg = append(msg, body...)
		if len(msg) >= 4 {
			want := 4 + (int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3]))
			if msg[0] != typeClientHello || want > maxHandshakeSize {
				return raw, nil
			}
			if len(msg) >= want {
				ch, err := parseClientHello(msg[:want])
				if err != nil {
					return raw, nil
				}
				return raw, ch
			}
		}
	}
}

// prefixConn replays bytes already read before reading the connection.
type prefixConn struct {
	net.Conn
	prefix []byte
}

// NetConn returns the connection beneath: a reader waiting on the socket
// (ws) reaches it through the layers above, and reads through them (this
// one returns its prefix first, whatever the deadline) before it waits.
func (p *prefixConn) NetConn() net.Conn { return p.Conn }

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// Read routes the connection and runs the handshake if needed (bounded
// as in HandshakeContext), and reads application data.
func (m *MuxConn) Read(b []byte) (int, error) {
	c, err := m.secure()
	if err != nil {
		return 0, err
	}
	return c.Read(b)
}

// Write routes the connection and runs the handshake if needed (bounded
// as in HandshakeContext), and writes application data.
func (m *MuxConn) Write(b []byte) (int, error) {
	c, err := m.secure()
	if err != nil {
		return 0, err
	}
	return c.Write(b)
}

// Close closes the connection (with close_notify once routed and
// handshaken). During routing it ends the routing at once: the ClientHello
// read fails and the key lookups' contexts are cancelled.
func (m *MuxConn) Close() error {
	m.mu.Lock()
	m.closed = true
	cancel, p, t := m.cancel, m.pskc, m.tlsc
	m.mu.Unlock()
	switch {
	case p != nil:
		return p.Close()
	case t != nil:
		return t.Close()
	}
	if cancel != nil {
		cancel()
	}
	return m.raw.Close()
}

// CloseWrite sends close_notify on a routed connection.
func (m *MuxConn) CloseWrite() error {
	if p := m.PSK(); p != nil {
		return p.CloseWrite()
	}
	if t := m.TLS(); t != nil {
		return t.CloseWrite()
	}
	return errors.New("psk: CloseWrite before the handshake")
}

// LocalAddr returns the local network address.
func (m *MuxConn) LocalAddr() net.Addr { return m.raw.LocalAddr() }

// RemoteAddr returns the remote network address.
func (m *MuxConn) RemoteAddr() net.Addr { return m.raw.RemoteAddr() }

// SetDeadline sets the underlying connection's deadlines.
func (m *MuxConn) SetDeadline(t time.Time) error { return m.raw.SetDeadline(t) }

// SetReadDeadline sets the underlying connection's read deadline.
func (m *MuxConn) SetReadDeadline(t time.Time) error { return m.raw.SetReadDeadline(t) }

// SetWriteDeadline sets the underlying connection's write deadline.
func (m *MuxConn) SetWriteDeadline(t time.Time) error { return m.raw.SetWriteDeadline(t) }
