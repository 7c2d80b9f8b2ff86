package psk

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
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

// NewListener wraps inner. pskConfig is required; certConfig may be nil
// for a PSK-only port (every connection then goes to the PSK server).
// Neither is modified.
func NewListener(inner net.Listener, pskConfig *ServerConfig, certConfig *tls.Config) *Listener {
	return &Listener{inner: inner, psk: pskConfig, cert: certConfig}
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
	return &MuxConn{raw: conn, l: &Listener{psk: pskConfig, cert: certConfig}}
}

// Close closes the inner listener.
func (l *Listener) Close() error { return l.inner.Close() }

// Addr returns the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// MuxConn is a server connection that becomes a PSK *Conn or a *tls.Conn
// when its ClientHello arrives: on the first Read, Write or
// HandshakeContext. Deadlines apply to the underlying connection, so a
// deadline set before the first Read (as ws.ReadUpgrade does) bounds the
// routing and the handshake too.
type MuxConn struct {
	raw net.Conn
	l   *Listener

	mu     sync.Mutex
	routed bool
	err    error
	pskc   *Conn
	tlsc   *tls.Conn
}

// HandshakeContext reads the ClientHello, routes the connection and runs
// the chosen handshake. Cancelling ctx closes the connection.
func (m *MuxConn) HandshakeContext(ctx context.Context) error {
	c, err := m.route(ctx)
	if err != nil {
		return err
	}
	if m.pskc != nil {
		return m.pskc.HandshakeContext(ctx)
	}
	return c.(*tls.Conn).HandshakeContext(ctx)
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
func (m *MuxConn) route(ctx context.Context) (net.Conn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.routed {
		if m.err != nil {
			return nil, m.err
		}
		if m.pskc != nil {
			return m.pskc, nil
		}
		return m.tlsc, nil
	}
	m.routed = true
	timeout := m.l.psk.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := context.AfterFunc(pctx, func() { _ = m.raw.Close() })
	defer stop()

	prefix, ch := peekClientHello(m.raw)
	pc := &prefixConn{Conn: m.raw, prefix: prefix}
	if len(prefix) == 0 {
		m.err = errors.New("psk: connection closed before a ClientHello")
		_ = m.raw.Close()
		return nil, m.err
	}
	usePSK, cache, err := m.l.wantsPSK(pctx, ch)
	if err != nil {
		m.err = err
		_ = m.raw.Close()
		return nil, err
	}
	if usePSK {
		m.pskc = Server(pc, m.l.psk)
		m.pskc.preKeys = cache
		return m.pskc, nil
	}
	m.tlsc = tls.Server(pc, m.l.cert)
	return m.tlsc, nil
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
			return false, nil, err
		}
		cache.keys[string(id.identity)] = key
		if len(key) > 0 {
			return true, cache, nil
		}
	}
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

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// Read routes the connection if needed and reads application data.
func (m *MuxConn) Read(b []byte) (int, error) {
	c, err := m.route(context.Background())
	if err != nil {
		return 0, err
	}
	return c.Read(b)
}

// Write routes the connection if needed and writes application data.
func (m *MuxConn) Write(b []byte) (int, error) {
	c, err := m.route(context.Background())
	if err != nil {
		return 0, err
	}
	return c.Write(b)
}

// Close closes the connection (with close_notify once routed and
// handshaken).
func (m *MuxConn) Close() error {
	if !m.mu.TryLock() {
		// Routing in progress: closing the transport ends it.
		return m.raw.Close()
	}
	p, t := m.pskc, m.tlsc
	m.mu.Unlock()
	switch {
	case p != nil:
		return p.Close()
	case t != nil:
		return t.Close()
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
