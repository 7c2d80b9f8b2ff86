package psk

import (
	"context"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Conn is a TLS 1.3 connection secured with an external pre-shared key. It
// implements net.Conn like *tls.Conn: the handshake runs on the first
// Read or Write, or explicitly with HandshakeContext. Read is meant for
// one goroutine, Write for one other; Close may be called from any.
type Conn struct {
	conn     net.Conn
	isClient bool
	ccfg     *ClientConfig
	scfg     *ServerConfig
	preKeys  *lookupCache // server: key lookups already done by a Listener

	handshakeMu   sync.Mutex
	handshakeErr  error
	handshakeDone atomic.Bool
	state         ConnectionState // written once before handshakeDone

	in, out halfConn

	// Input side, guarded by in.
	raw        []byte // bytes read from conn not yet consumed as records
	input      []byte // decrypted application data not yet returned
	inputBuf   []byte // backing array of input
	hand       []byte // handshake bytes not yet consumed as messages
	rawBuf     []byte // backing array of raw, reused between records
	useless    int    // consecutive records that carried nothing
	ccsOK      bool   // a middlebox ChangeCipherSpec may arrive (§5)
	earlySkip  int    // budget of refused early data still skippable (§4.2.10)
	skipFailed bool   // server: skip undecryptable records (refused 0-RTT)

	// TLS 1.2, decided during the handshake (both locks held).
	tls12       bool    // records and handshake follow RFC 5246
	pendingRead *keys12 // read keys the peer's ChangeCipherSpec installs

	renegotiations int // TLS 1.2 renegotiation attempts refused

	// Output side, guarded by out.
	sendBuf         []byte
	closeNotifySent bool
	firstRecord     bool // next plaintext record is the first ClientHello

	closed atomic.Bool
}

// halfConn is one direction's protection state (§5.2, §5.3).
type halfConn struct {
	sync.Mutex
	err    error // sticky: a fatal error on this direction
	suite  *cipherSuite
	aead   cipher.AEAD
	iv     []byte
	seq    uint64
	secret []byte // current traffic secret, for KeyUpdate (§7.2)

	v12      bool // TLS 1.2 record protection (RFC 5246 §6.2.3.3)
	explicit bool // TLS 1.2 GCM: 8-byte explicit nonce per record (RFC 5288 §3)
	nonceBuf [12]byte
	aadBuf   [13]byte
}

// setTrafficSecrets keys both directions of the record layer.
func (c *Conn) setTrafficSecrets(s *cipherSuite, read, write []byte) error {
	if err := c.in.setTrafficSecret(s, read); err != nil {
		return wrapAlert(AlertInternalError, err)
	}
	if err := c.out.setTrafficSecret(s, write); err != nil {
		return wrapAlert(AlertInternalError, err)
	}
	return nil
}

func (hc *halfConn) setTrafficSecret(s *cipherSuite, secret []byte) error {
	key, iv := trafficKey(s, secret)
	aead, err := s.aead(key)
	if err != nil {
		return err
	}
	hc.suite, hc.aead, hc.iv, hc.seq, hc.secret = s, aead, iv, 0, secret
	return nil
}

// setKeys12 installs TLS 1.2 record protection; the sequence number
// starts at 0 after each ChangeCipherSpec (RFC 5246 §6.1).
func (hc *halfConn) setKeys12(k keys12) error {
	aead, err := k.suite.aead(k.key)
	if err != nil {
		return err
	}
	hc.suite, hc.secret = nil, nil
	hc.aead, hc.iv, hc.seq = aead, k.iv, 0
	hc.v12, hc.explicit = true, k.suite.explicit
	return nil
}

// nonce is the per-record nonce: IV XOR the 64-bit sequence number (§5.3,
// and RFC 7905 §2 for TLS 1.2 ChaCha20-Poly1305), or for TLS 1.2 GCM the
// 4-byte salt followed by the sequence number as explicit nonce (RFC 5288
// §3). It is valid until the next call.
func (hc *halfConn) nonce() []byte {
	n := hc.nonceBuf[:]
	if hc.explicit {
		copy(n, hc.iv)
		binary.BigEndian.PutUint64(n[4:], hc.seq)
		return n
	}
	n = n[:len(hc.iv)]
	copy(n, hc.iv)
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], hc.seq)
	for i := range seq {
		n[len(n)-8+i] ^= seq[i]
	}
	return n
}

// additionalData12 is seq_num || type || version || length (RFC 5246
// §6.2.3.3), length being the plaintext's.
func (hc *halfConn) additionalData12(typ uint8, n int) []byte {
	a := hc.aadBuf[:]
	binary.BigEndian.PutUint64(a, hc.seq)
	a[8], a[9], a[10], a[11], a[12] = typ, 3, 3, byte(n>>8), byte(n)
	return a
}

// ConnectionState describes a completed PSK handshake.
type ConnectionState struct {
	// Version is VersionTLS13, or VersionTLS12 when TLS 1.2 was enabled
	// and negotiated.
	Version uint16
	// HandshakeComplete is true once the handshake succeeded.
	HandshakeComplete bool
	// CipherSuite is the negotiated suite (e.g. 0x1301, or 0x00a8 in
	// TLS 1.2); CipherSuiteName names it.
	CipherSuite uint16
	// Identity is the PSK identity used: the one the client sent and the
	// server accepted. It travels in clear and may be logged.
	Identity []byte
	// Hash is the PSK's hash (TLS 1.3) or the suite's PRF hash (TLS 1.2).
	Hash Hash
	// Group is the (EC)DHE group of a psk_dhe_ke (TLS 1.3) or ECDHE_PSK
	// (TLS 1.2) handshake, 0 without forward secrecy.
	Group CurveID
	// IdentityHint is the TLS 1.2 PSK identity hint the server sent in
	// ServerKeyExchange (RFC 4279 §2); nil in TLS 1.3.
	IdentityHint []byte
	// ExtendedMasterSecret is true when a TLS 1.2 handshake used the
	// extended master secret (RFC 7627); both sides offer it.
	ExtendedMasterSecret bool
	// DidHelloRetryRequest is true when the server asked for another key
	// share (§4.1.4).
	DidHelloRetryRequest bool
	// NegotiatedProtocol is the ALPN protocol, or "".
	NegotiatedProtocol string
	// ServerName is the SNI host name the client sent, or "".
	ServerName string
}

// Client returns a client-side PSK connection over conn. The handshake
// runs on the first Read, Write or HandshakeContext. config is copied (the
// slices it refers to are shared, as tls.Config.Clone shares them, and
// must not be changed while in use); nil means the zero ClientConfig,
// whose handshake fails because it has no key: set Identity and Key, or
// GetKey.
func Client(conn net.Conn, config *ClientConfig) *Conn {
	return newClient(conn, config.clone())
}

// newClient is Client with a config that is already a private copy.
func newClient(conn net.Conn, config *ClientConfig) *Conn {
	return &Conn{conn: conn, isClient: true, ccfg: config, firstRecord: true}
}

// Server returns a server-side PSK connection over conn. The handshake
// runs on the first Read, Write or HandshakeContext. config is copied as
// by Client; nil means the zero ServerConfig, whose handshake fails
// because it has no GetKey.
func Server(conn net.Conn, config *ServerConfig) *Conn {
	return newServer(conn, config.clone())
}

// newServer is Server with a config that is already a private copy.
func newServer(conn net.Conn, config *ServerConfig) *Conn {
	return &Conn{conn: conn, scfg: config}
}

// ConnectionState returns the negotiated parameters; before the handshake
// completes it is the zero value.
func (c *Conn) ConnectionState() ConnectionState {
	if !c.handshakeDone.Load() {
		return ConnectionState{}
	}
	st := c.state
	st.Identity = append([]byte(nil), st.Identity...)
	if st.IdentityHint != nil {
		st.IdentityHint = append([]byte(nil), st.IdentityHint...)
	}
	return st
}

// NetConn returns the underlying connection. Writing to it or reading
// from it corrupts the TLS session.
func (c *Conn) NetConn() net.Conn { return c.conn }

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// RemoteAddr returns the remote network address.
func (c *Conn) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// SetDeadline sets the read and write deadlines of the underlying
// connection. A Write that times out leaves the connection unusable, as
// with crypto/tls; a Read that times out can be retried.
func (c *Conn) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// SetReadDeadline sets the read deadline of the underlying connection.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline of the underlying connection.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }

// Handshake runs the handshake if it has not run yet; see HandshakeContext.
func (c *Conn) Handshake() error { return c.HandshakeContext(context.Background()) }

// HandshakeContext runs the PSK handshake if it has not run yet and
// returns its result (the same error on every call after a failure).
// Cancelling ctx before the handshake ends closes the connection. The
// configuration's HandshakeTimeout (default DefaultHandshakeTimeout)
// bounds it as well.
func (c *Conn) HandshakeContext(ctx context.Context) error {
	if c.handshakeDone.Load() {
		return nil
	}
	c.handshakeMu.Lock()
	defer c.handshakeMu.Unlock()
	if c.handshakeErr != nil {
		return c.handshakeErr
	}
	if c.handshakeDone.Load() {
		return nil
	}
	if c.closed.Load() {
		return ErrClosed
	}
	timeout := DefaultHandshakeTimeout
	if c.isClient && c.ccfg != nil && c.ccfg.HandshakeTimeout != 0 {
		timeout = c.ccfg.HandshakeTimeout
	} else if !c.isClient && c.scfg != nil && c.scfg.HandshakeTimeout != 0 {
		timeout = c.scfg.HandshakeTimeout
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := context.AfterFunc(hctx, func() { _ = c.conn.Close() })
	defer stop()

	c.in.Lock()
	c.out.Lock()
	var err error
	if c.isClient {
		err = c.clientHandshake(hctx)
	} else {
		err = c.serverHandshake(hctx)
	}
	if err == nil {
		err = c.flushLocked()
	}
	if err != nil {
		var ae *AlertError
		if errors.As(err, &ae) && !ae.Remote && c.out.err == nil {
			_ = c.sendAlertLocked(ae.Alert)
		}
		if !stop() || hctx.Err() != nil {
			if ctxErr := hctx.Err(); ctxErr != nil {
				err = fmt.Errorf("psk: handshake: %w (%w)", ctxErr, err)
			}
		}
		c.handshakeErr = err
		if c.in.err == nil {
			c.in.err = err
		}
		if c.out.err == nil {
			c.out.err = err
		}
	} else {
		c.state.Version = VersionTLS13
		if c.tls12 {
			c.state.Version = VersionTLS12
		}
		c.state.HandshakeComplete = true
		c.handshakeDone.Store(true)
		c.ccsOK = false
	}
	c.out.Unlock()
	c.in.Unlock()
	return err
}

// runSteps runs the steps of a handshake (the methods of a handshake
// state, in protocol order) and stops at the first error.
func runSteps(steps ...func() error) error {
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// Read reads application data, running the handshake first if needed.
// It returns io.EOF after the peer's close_notify and an *AlertError
// after a fatal alert. NewSessionTicket messages are ignored and
// KeyUpdate requests answered (§4.6).
func (c *Conn) Read(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	if len(b) == 0 {
		return 0, nil
	}
	c.in.Lock()
	defer c.in.Unlock()
	for len(c.input) == 0 {
		if c.in.err != nil {
			return 0, c.in.err
		}
		if err := c.readRecord(); err != nil {
			return 0, c.readFailed(err)
		}
		for len(c.hand) > 0 {
			if err := c.handlePostHandshake(); err != nil {
				return 0, c.readFailed(err)
			}
		}
	}
	n := copy(b, c.input)
	c.input = c.input[n:]
	return n, nil
}

// readFailed records a fatal read error and sends the alert it calls for.
// Timeouts are returned without being remembered: the read can be retried.
func (c *Conn) readFailed(err error) error {
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return err
	}
	if err == io.EOF || errors.Is(err, net.ErrClosed) {
		c.in.err = err
		return err
	}
	var ae *AlertError
	if errors.As(err, &ae) && !ae.Remote {
		_ = c.sendAlert(ae.Alert)
	}
	c.in.err = err
	return err
}

// Write writes application data in records of at most 16 KiB, running the
// handshake first if needed.
func (c *Conn) Write(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	c.out.Lock()
	defer c.out.Unlock()
	if c.out.err != nil {
		return 0, c.out.err
	}
	if c.closeNotifySent {
		return 0, errShutdown
	}
	n := 0
	for len(b) > 0 {
		m := min(len(b), maxPlaintext)
		if err := c.writeRecordLocked(recordApplicationData, b[:m]); err != nil {
			return n, err
		}
		if err := c.flushLocked(); err != nil {
			return n, err
		}
		n += m
		b = b[m:]
		if c.out.seq >= keyUpdateThreshold && !c.tls12 {
			if err := c.updateWriteKeyLocked(false); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

var errShutdown = errors.New("psk: protocol is shutdown")

// KeyUpdate replaces this side's write key (RFC 8446 §4.6.3) and, with
// requestPeer, asks the peer to replace its own.
func (c *Conn) KeyUpdate(requestPeer bool) error {
	if err := c.Handshake(); err != nil {
		return err
	}
	if c.tls12 {
		return errors.New("psk: KeyUpdate does not exist in TLS 1.2")
	}
	c.out.Lock()
	defer c.out.Unlock()
	if c.out.err != nil {
		return c.out.err
	}
	return c.updateWriteKeyLocked(requestPeer)
}

func (c *Conn) updateWriteKeyLocked(requestPeer bool) error {
	if err := c.writeRecordLocked(recordHandshake, marshalKeyUpdate(requestPeer)); err != nil {
		return err
	}
	if err := c.flushLocked(); err != nil {
		return err
	}
	next := nextTrafficSecret(c.out.suite.hash, c.out.secret)
	if err := c.out.setTrafficSecret(c.out.suite, next); err != nil {
		c.out.err = err
		return err
	}
	return nil
}

// handlePostHandshake processes one message after the handshake (§4.6):
// KeyUpdate, or, on a client, NewSessionTicket (ignored). Anything else is
// unexpected_message.
func (c *Conn) handlePostHandshake() error {
	msg, ok, err := c.nextHandshakeMessage()
	if err != nil || !ok {
		if err == nil && !ok {
			// Incomplete message: read more.
			if err := c.readRecord(); err != nil {
				return err
			}
			return nil
		}
		return err
	}
	if c.tls12 {
		return c.handlePostHandshake12(msg)
	}
	switch msg[0] {
	case typeNewSessionTicket:
		if !c.isClient {
			return localAlert(AlertUnexpectedMessage, "NewSessionTicket from a client")
		}
		return checkNewSessionTicket(msg)
	case typeKeyUpdate:
		requested, err := parseKeyUpdate(msg)
		if err != nil {
			return err
		}
		// §5.1: a key change must fall on a record boundary.
		if len(c.hand) > 0 {
			return localAlert(AlertUnexpectedMessage, "handshake data after KeyUpdate in the same record")
		}
		next := nextTrafficSecret(c.in.suite.hash, c.in.secret)
		if err := c.in.setTrafficSecret(c.in.suite, next); err != nil {
			return err
		}
		if requested {
			c.out.Lock()
			defer c.out.Unlock()
			if c.out.err != nil || c.closeNotifySent {
				return nil // nothing more will be written anyway
			}
			return c.updateWriteKeyLocked(false)
		}
		return nil
	}
	return localAlert(AlertUnexpectedMessage, fmt.Sprintf("handshake message type %d after the handshake", msg[0]))
}

// closeNotifyTimeout bounds Close and CloseWrite: the wait for a Write in
// progress and the close_notify write together.
const closeNotifyTimeout = time.Second

// Close sends close_notify if the handshake completed, then closes the
// underlying connection. A Write in progress is waited for, at most
// closeNotifyTimeout (a write deadline on the underlying connection bounds
// it and the alert; a Write still blocked then fails, and no close_notify
// follows a half-written record). Unlike crypto/tls, which skips
// close_notify when a Write is in flight, the peer learns that the close
// is deliberate.
func (c *Conn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	var alertErr error
	if c.handshakeDone.Load() {
		alertErr = c.closeNotify()
	}
	if err := c.conn.Close(); err != nil {
		return err
	}
	if alertErr != nil && !errors.Is(alertErr, net.ErrClosed) {
		return fmt.Errorf("psk: close_notify not sent (connection closed anyway): %w", alertErr)
	}
	return nil
}

// CloseWrite sends close_notify: the peer reads EOF, this side can still
// read. The underlying connection stays open, as with crypto/tls; later
// writes fail. Like Close it waits at most closeNotifyTimeout.
func (c *Conn) CloseWrite() error {
	if !c.handshakeDone.Load() {
		return errors.New("psk: CloseWrite before the handshake completed")
	}
	return c.closeNotify()
}

// closeNotify sends close_notify once. Everything that blocks under the
// write lock is a write to the underlying connection, so the write
// deadline set first bounds both the wait for the lock and the alert.
// Afterwards writes fail at once (nothing may follow close_notify).
func (c *Conn) closeNotify() error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(closeNotifyTimeout))
	c.out.Lock()
	defer c.out.Unlock()
	var err error
	if !c.closeNotifySent && c.out.err == nil {
		err = c.sendAlertLocked(AlertCloseNotify)
	}
	_ = c.conn.SetWriteDeadline(time.Now())
	return err
}

// sendAlert sends an alert, taking the write lock.
func (c *Conn) sendAlert(a Alert) error {
	c.out.Lock()
	defer c.out.Unlock()
	if c.out.err != nil && a != AlertCloseNotify {
		return c.out.err
	}
	return c.sendAlertLocked(a)
}

// sendAlertLocked sends an alert: close_notify, user_canceled and
// no_renegotiation are level warning (1), all others are fatal (2) and
// end the write side (§6).
func (c *Conn) sendAlertLocked(a Alert) error {
	level := byte(2)
	if a == AlertCloseNotify || a == AlertUserCanceled || a == AlertNoRenegotiation {
		level = 1
	}
	err := c.writeRecordLocked(recordAlert, []byte{level, byte(a)})
	if err == nil {
		err = c.flushLocked()
	}
	if a == AlertCloseNotify {
		c.closeNotifySent = true
	} else if c.out.err == nil && a != AlertNoRenegotiation {
		c.out.err = &AlertError{Alert: a}
	}
	return err
}

// handlePostHandshake12 refuses renegotiation (RFC 5746, RFC 5246
// §7.2.2): a HelloRequest (client) or ClientHello (server) after the
// handshake gets a no_renegotiation warning and is otherwise ignored.
// Anything else is unexpected_message.
func (c *Conn) handlePostHandshake12(msg []byte) error {
	switch {
	case c.isClient && msg[0] == typeHelloRequest && len(msg) == 4:
	case !c.isClient && msg[0] == typeClientHello:
	default:
		return localAlert(AlertUnexpectedMessage, fmt.Sprintf("TLS 1.2 handshake message type %d after the handshake", msg[0]))
	}
	c.renegotiations++
	if c.renegotiations > maxUselessRecords {
		return localAlert(AlertUnexpectedMessage, "too many renegotiation attempts")
	}
	c.out.Lock()
	defer c.out.Unlock()
	if c.out.err != nil || c.closeNotifySent {
		return nil
	}
	return c.sendAlertLocked(AlertNoRenegotiation)
}
