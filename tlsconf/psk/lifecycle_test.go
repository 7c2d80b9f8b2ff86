package psk

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// Routing, key retention and Close: no call blocks behind another without
// a bound, and no secret outlives the handshake.

// pskHelloWithSigAlgs is a TLS 1.3 PSK ClientHello that also carries
// signature_algorithms, as OpenSSL's does: the Listener must look the
// identity up to route it. Its binder is not valid.
func pskHelloWithSigAlgs(t testing.TB) []byte {
	t.Helper()
	m, exts := helloParts(t)
	last := exts[len(exts)-1]
	if last.typ != extPreSharedKey {
		t.Fatal("pre_shared_key is not last")
	}
	out := append([]ext{}, exts[:len(exts)-1]...)
	out = append(out, ext{typ: extSignatureAlgorithms, data: []byte{0, 2, 0x04, 0x03}}, last)
	return buildHello(m, out)
}

// TestMuxRoutingDoesNotBlock: while a ClientHello's identities are being
// looked up (a slow key store), PSK, TLS, the addresses and the deadlines
// answer at once, and Close ends the routing at once, cancelling the
// lookup. The routing used to hold the MuxConn's mutex across the
// ClientHello peek and the lookups, and Close only closed the socket.
func TestMuxRoutingDoesNotBlock(t *testing.T) {
	cert, _, _ := testCert(t)
	lookups := make(chan struct{}, 8)
	cancelled := make(chan struct{}, 8)
	cfg := &ServerConfig{
		HandshakeTimeout: 8 * time.Second, KeyLookupTimeout: 8 * time.Second,
		GetKey: func(ctx context.Context, _ []byte) ([]byte, error) {
			lookups <- struct{}{}
			<-ctx.Done()
			cancelled <- struct{}{}
			return nil, ctx.Err()
		},
	}
	cc, sc := testpeer.TCPPair(t)
	m := Mux(sc, cfg, &tls.Config{Certificates: []tls.Certificate{cert}})
	errc := make(chan error, 2)
	go func() { errc <- m.HandshakeContext(context.Background()) }()
	go func() {
		_, err := m.Read(make([]byte, 1)) // a second caller waits for the route
		errc <- err
	}()
	if _, err := cc.Write(record(recordHandshake, pskHelloWithSigAlgs(t))); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lookups:
	case <-time.After(5 * time.Second):
		t.Fatal("GetKey was not called")
	}

	quick := func(name string, f func()) {
		t.Helper()
		done := make(chan struct{})
		go func() { f(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Second):
			t.Fatalf("%s blocked while the connection was being routed", name)
		}
	}
	quick("PSK", func() {
		if m.PSK() != nil {
			t.Error("PSK() before routing")
		}
	})
	quick("TLS", func() {
		if m.TLS() != nil {
			t.Error("TLS() before routing")
		}
	})
	quick("RemoteAddr", func() { _ = m.RemoteAddr() })
	quick("SetDeadline", func() { _ = m.SetDeadline(time.Now().Add(time.Minute)) })

	start := time.Now()
	quick("Close", func() { _ = m.Close() })
	for range 2 {
		select {
		case err := <-errc:
			if err == nil {
				t.Fatal("routing succeeded after Close")
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("routing still running %v after Close", time.Since(start))
		}
	}
	select {
	case <-cancelled:
	case <-time.After(time.Second):
		t.Fatal("Close did not cancel the key lookup")
	}
}

// TestMuxPeekDeadline: a client that connects and sends nothing is cut
// at HandshakeTimeout, and so is one that sends half a ClientHello.
func TestMuxPeekDeadline(t *testing.T) {
	cert, _, _ := testCert(t)
	for _, prefix := range [][]byte{nil, record(recordHandshake, pskHelloWithSigAlgs(t))[:40]} {
		cfg := testServerConfig(t)
		cfg.HandshakeTimeout = 300 * time.Millisecond
		cc, sc := testpeer.TCPPair(t)
		m := Mux(sc, cfg, &tls.Config{Certificates: []tls.Certificate{cert}})
		if _, err := cc.Write(prefix); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err := m.HandshakeContext(context.Background())
		if err == nil {
			t.Fatal("handshake succeeded")
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("a silent client was cut after %v", d)
		}
		// The client sees the connection closed.
		_ = cc.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := cc.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Fatalf("client read %v, want EOF or reset", err)
		}
		m.Close()
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestLookedUpKeysDropped: the keys a Listener looked up while routing
// are zeroed and dropped once the handshake is over, whatever its
// outcome; the hook's own copy is left alone.
func TestLookedUpKeysDropped(t *testing.T) {
	for _, wrongKey := range []bool{false, true} {
		hookKey := testKey(t)
		cached := bytes.Clone(hookKey)
		cache := &lookupCache{keys: map[string][]byte{testIdentity: cached}}
		scfg := &ServerConfig{GetKey: func(context.Context, []byte) ([]byte, error) { return hookKey, nil }}
		ccfg := testClientConfig(t)
		if wrongKey {
			ccfg.Key = bytes.Repeat([]byte{7}, 32)
		}
		cc, sc := testpeer.TCPPair(t)
		c, s := Client(cc, ccfg), Server(sc, scfg)
		s.preKeys = cache
		serr := make(chan error, 1)
		go func() {
			err := s.Handshake()
			if err != nil {
				s.Close()
			}
			serr <- err
		}()
		cerr := c.Handshake()
		if err := <-serr; (err != nil) != wrongKey || (cerr != nil) != wrongKey {
			t.Fatalf("wrong key %v: client %v, server %v", wrongKey, cerr, err)
		}
		if s.preKeys != nil {
			t.Fatalf("wrong key %v: the looked-up keys are kept after the handshake", wrongKey)
		}
		if !bytes.Equal(cached, make([]byte, len(cached))) {
			t.Fatalf("wrong key %v: the cached key was not zeroed", wrongKey)
		}
		if !bytes.Equal(hookKey, testKey(t)) {
			t.Fatal("the hook's key was modified")
		}
		c.Close()
		s.Close()
	}
}

// TestListenerCachesCopies: the Listener's cache holds copies of what
// GetKey returned, so zeroing it never touches the hook's storage.
func TestListenerCachesCopies(t *testing.T) {
	cert, _, _ := testCert(t)
	hookKey := testKey(t)
	l := &Listener{psk: &ServerConfig{GetKey: func(context.Context, []byte) ([]byte, error) { return hookKey, nil }},
		cert: &tls.Config{Certificates: []tls.Certificate{cert}}}
	ch, err := parseClientHello(pskHelloWithSigAlgs(t))
	if err != nil {
		t.Fatal(err)
	}
	usePSK, cache, err := l.wantsPSK(context.Background(), ch)
	if err != nil || !usePSK || cache == nil {
		t.Fatalf("wantsPSK: %v %v %v", usePSK, cache, err)
	}
	cache.release()
	if !bytes.Equal(hookKey, testKey(t)) {
		t.Fatal("releasing the cache zeroed the hook's key")
	}
}

// tapConn records every byte read from the connection.
type tapConn struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (t *tapConn) Read(b []byte) (int, error) {
	n, err := t.Conn.Read(b)
	t.mu.Lock()
	t.buf.Write(b[:n])
	t.mu.Unlock()
	return n, err
}

// lastRecord returns the type and body length of the last whole record
// the tap saw.
func (t *tapConn) lastRecord() (typ uint8, n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf.Bytes()
	for len(b) >= recordHeaderLen {
		l := int(b[3])<<8 | int(b[4])
		if len(b) < recordHeaderLen+l {
			break
		}
		typ, n = b[0], l
		b = b[recordHeaderLen+l:]
	}
	return typ, n
}

// closeNotifyLen is the body of a protected close_notify: the 2-byte
// alert, its content type and the 16-byte AEAD tag.
const closeNotifyLen = 2 + 1 + 16

// TestCloseSendsCloseNotifyDuringWrite: Close while a Write holds the
// write lock waits for it (bounded) and still sends close_notify. It used
// to skip close_notify whenever the lock was taken.
func TestCloseSendsCloseNotifyDuringWrite(t *testing.T) {
	cc, sc := testpeer.TCPPair(t)
	tap := &tapConn{Conn: sc}
	c, s := Client(cc, testClientConfig(t)), Server(tap, testServerConfig(t))
	serr := make(chan error, 1)
	go func() { serr <- s.Handshake() }()
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-serr; err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// A Write in progress: it holds the lock for 200 ms.
	c.out.Lock()
	released := make(chan struct{})
	go func() {
		time.Sleep(200 * time.Millisecond)
		close(released)
		c.out.Unlock()
	}()
	start := time.Now()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	<-released
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Close took %v", d)
	}
	_ = s.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := s.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("server read %v, want EOF", err)
	}
	if typ, n := tap.lastRecord(); typ != recordApplicationData || n != closeNotifyLen {
		t.Fatalf("last record type %d length %d: no close_notify", typ, n)
	}
}

// TestCloseWithStuckWrite: a Write blocked because the peer does not read
// does not make Close block beyond its bound; the Write fails.
func TestCloseWithStuckWrite(t *testing.T) {
	c, s, cerr, serr := handshakePair(t, testClientConfig(t), testServerConfig(t))
	if cerr != nil || serr != nil {
		t.Fatalf("client %v, server %v", cerr, serr)
	}
	defer s.Close()
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(make([]byte, 64<<20)) // far beyond the socket buffers
		werr <- err
	}()
	time.Sleep(200 * time.Millisecond) // let the Write fill the buffers
	start := time.Now()
	_ = c.Close()
	if d := time.Since(start); d > closeNotifyTimeout+2*time.Second {
		t.Fatalf("Close took %v with a stuck Write", d)
	}
	select {
	case err := <-werr:
		if err == nil {
			t.Fatal("the stuck Write succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stuck Write is still blocked after Close")
	}
}

// TestMuxCertificateHandshakeBounded: a certificate client that sends its
// ClientHello and then nothing is cut at the PSK configuration's
// HandshakeTimeout too, whether the handshake runs from HandshakeContext
// or from the first Read, without any deadline set by the caller. The
// crypto/tls route used to wait forever.
func TestMuxCertificateHandshakeBounded(t *testing.T) {
	cert, _, _ := testCert(t)
	hello := firstFlight(t, func(c net.Conn) error {
		return tls.Client(c, &tls.Config{ServerName: "localhost", InsecureSkipVerify: true}).Handshake()
	})
	for _, how := range []string{"HandshakeContext", "Read"} {
		t.Run(how, func(t *testing.T) {
			cfg := testServerConfig(t)
			cfg.HandshakeTimeout = 300 * time.Millisecond
			cc, sc := testpeer.TCPPair(t)
			m := Mux(sc, cfg, &tls.Config{Certificates: []tls.Certificate{cert}})
			defer m.Close()
			if _, err := cc.Write(hello); err != nil {
				t.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() {
				if how == "Read" {
					_, err := m.Read(make([]byte, 1))
					errc <- err
					return
				}
				errc <- m.HandshakeContext(context.Background())
			}()
			select {
			case err := <-errc:
				if err == nil {
					t.Fatal("handshake succeeded")
				}
				if m.TLS() == nil {
					t.Fatalf("not routed to crypto/tls: %v", err)
				}
			case <-time.After(5 * time.Second):
				cc.Close() // unblock it
				<-errc
				t.Fatal("a silent certificate client is still handshaking after 5 s")
			}
		})
	}
}
