package psk

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// memConn is a net.Conn that reads fixed input and discards writes.
type memConn struct{ r io.Reader }

func (m *memConn) Read(b []byte) (int, error)       { return m.r.Read(b) }
func (m *memConn) Write(b []byte) (int, error)      { return len(b), nil }
func (m *memConn) Close() error                     { return nil }
func (m *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (m *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

func seedClientHello(f *testing.F) []byte {
	m := &clientHelloMsg{
		vers: versionTLS12, random: make([]byte, 32), sessionID: make([]byte, 32),
		cipherSuites: []uint16{0x1301, 0x1303}, compressionMethods: []uint8{0}, serverName: "a.example",
		supportedGroups: []CurveID{X25519}, keyShares: []keyShare{{X25519, make([]byte, 32)}},
		supportedVersions: []uint16{VersionTLS13}, pskModes: []uint8{1}, alpnProtocols: []string{"http/1.1"},
		cookie: []byte{1}, identities: []pskIdentity{{identity: []byte("id")}}, binders: [][]byte{make([]byte, 32)},
	}
	raw, err := m.marshal()
	if err != nil {
		f.Fatal(err)
	}
	return raw
}

// FuzzHandshakeMessages runs every handshake message parser on the same
// input: no panics, and accepted ClientHellos are self-consistent.
func FuzzHandshakeMessages(f *testing.F) {
	f.Add(seedClientHello(f))
	sh := &serverHelloMsg{vers: versionTLS12, random: make([]byte, 32), cipherSuite: 0x1301, supportedVersion: VersionTLS13, hasPSK: true, keyShare: keyShare{X25519, make([]byte, 32)}}
	raw, _ := sh.marshal()
	f.Add(raw)
	hrr := &serverHelloMsg{vers: versionTLS12, random: helloRetryRequestRandom[:], cipherSuite: 0x1301, supportedVersion: VersionTLS13, selectedGroup: P256, cookie: []byte{1, 2}}
	raw, _ = hrr.marshal()
	f.Add(raw)
	ee := &encryptedExtensionsMsg{alpnProtocol: "http/1.1", serverNameAck: true}
	raw, _ = ee.marshal()
	f.Add(raw)
	f.Add(marshalFinished(make([]byte, 32)))
	f.Add(marshalKeyUpdate(true))
	f.Add([]byte{typeNewSessionTicket, 0, 0, 13, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 1, 9, 0, 0})
	// TLS 1.2 messages.
	sh12 := &serverHelloMsg{tls12: true, vers: VersionTLS12, random: make([]byte, 32), cipherSuite: TLS_PSK_WITH_AES_128_GCM_SHA256,
		secureReneg: true, ems: true, ecPointFormats: true, alpnProtocol: "http/1.1"}
	raw, _ = sh12.marshal()
	f.Add(raw)
	raw, _ = (&serverKeyExchangeMsg{hint: []byte("hint"), ecdhe: true, group: X25519, public: make([]byte, 32)}).marshal()
	f.Add(raw)
	raw, _ = (&clientKeyExchangeMsg{identity: []byte("id"), public: make([]byte, 32)}).marshal(true)
	f.Add(raw)
	f.Add(serverHelloDoneMsg)
	f.Add(marshalFinished(make([]byte, 12)))
	f.Fuzz(func(t *testing.T, data []byte) {
		if ch, err := parseClientHello(data); err == nil {
			if len(ch.identities) > 0 && (ch.bindersLen() > len(ch.raw) || len(ch.binders) != len(ch.identities)) {
				t.Fatal("inconsistent pre_shared_key")
			}
		}
		_, _ = parseServerHello(data)
		_, _ = parseEncryptedExtensions(data)
		_, _ = parseFinished(data, SHA256)
		_, _ = parseFinished(data, SHA384)
		_, _ = parseKeyUpdate(data)
		_ = checkNewSessionTicket(data)
		for _, ecdhe := range []bool{false, true} {
			if m, err := parseServerKeyExchange(data, ecdhe); err == nil && len(m.hint) > MaxIdentityLength {
				t.Fatal("over-long hint accepted")
			}
			_, _ = parseClientKeyExchange(data, ecdhe)
		}
		_ = parseServerHelloDone(data)
		_, _ = parseFinished12(data)
	})
}

func seedClientHello12(f *testing.F) []byte {
	raw, err := hello12(TLS_PSK_WITH_AES_128_GCM_SHA256, TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256).marshal()
	if err != nil {
		f.Fatal(err)
	}
	return raw
}

// FuzzServerHandshake12 feeds arbitrary client bytes to a server that
// accepts TLS 1.2, seeded with a TLS 1.2 ClientHello and key exchange.
func FuzzServerHandshake12(f *testing.F) {
	ch := record(recordHandshake, seedClientHello12(f))
	cke, _ := (&clientKeyExchangeMsg{identity: []byte("id")}).marshal(false)
	f.Add(ch)
	f.Add(append(append(append([]byte(nil), ch...), record(recordHandshake, cke)...), record(recordChangeCipherSpec, []byte{1})...))
	cfg := &ServerConfig{GetKey: staticKeys(map[string][]byte{"id": bytes.Repeat([]byte{1}, 32)}), HandshakeTimeout: time.Second,
		MinVersion: VersionTLS12, IdentityHint: []byte("hint")}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := Server(&memConn{r: bytes.NewReader(data)}, cfg)
		if err := c.HandshakeContext(context.Background()); err == nil {
			t.Fatal("handshake succeeded on fuzzed input")
		}
	})
}

// FuzzClientHandshake12 feeds arbitrary server flights to a TLS 1.2
// client.
func FuzzClientHandshake12(f *testing.F) {
	sh := &serverHelloMsg{tls12: true, vers: VersionTLS12, random: make([]byte, 32), cipherSuite: TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256, ems: true}
	shRaw, _ := sh.marshal()
	ske, _ := (&serverKeyExchangeMsg{hint: []byte("hint"), ecdhe: true, group: X25519, public: make([]byte, 32)}).marshal()
	flight := append(append(record(recordHandshake, shRaw), record(recordHandshake, ske)...), record(recordHandshake, serverHelloDoneMsg)...)
	f.Add(flight)
	f.Add(append(append([]byte(nil), flight...), record(recordChangeCipherSpec, []byte{1})...))
	cfg := &ClientConfig{Identity: []byte("id"), Key: bytes.Repeat([]byte{1}, 32), MinVersion: VersionTLS12, MaxVersion: VersionTLS12, HandshakeTimeout: time.Second}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := Client(&memConn{r: bytes.NewReader(data)}, cfg)
		if err := c.HandshakeContext(context.Background()); err == nil {
			t.Fatal("handshake succeeded on fuzzed input")
		}
	})
}

// FuzzRecordLayer12 feeds arbitrary records to an established TLS 1.2
// connection (GCM with explicit nonces, and ChaCha20-Poly1305).
func FuzzRecordLayer12(f *testing.F) {
	keys := func(id uint16) keys12 {
		s := suite12ByID(id)
		return keys12{suite: s, key: bytes.Repeat([]byte{7}, s.keyLen), iv: bytes.Repeat([]byte{9}, s.ivLen)}
	}
	for _, id := range []uint16{TLS_PSK_WITH_AES_128_GCM_SHA256, TLS_PSK_WITH_CHACHA20_POLY1305_SHA256} {
		w := &Conn{tls12: true}
		_ = w.out.setKeys12(keys(id))
		w.writeRecordLocked(recordApplicationData, []byte("hello"))
		w.writeRecordLocked(recordHandshake, []byte{typeHelloRequest, 0, 0, 0})
		w.writeRecordLocked(recordAlert, []byte{1, byte(AlertNoRenegotiation)})
		w.writeRecordLocked(recordAlert, []byte{1, 0})
		f.Add(id == TLS_PSK_WITH_AES_128_GCM_SHA256, append([]byte(nil), w.sendBuf...))
	}
	f.Fuzz(func(t *testing.T, gcm bool, data []byte) {
		id := TLS_PSK_WITH_CHACHA20_POLY1305_SHA256
		if gcm {
			id = TLS_PSK_WITH_AES_128_GCM_SHA256
		}
		c := &Conn{conn: &memConn{r: bytes.NewReader(data)}, isClient: true, tls12: true}
		_ = c.in.setKeys12(keys(id))
		_ = c.out.setKeys12(keys(id))
		c.handshakeDone.Store(true)
		buf := make([]byte, 1024)
		for i := 0; i < 100; i++ {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
}

// FuzzServerHandshake feeds arbitrary client bytes to a server handshake.
func FuzzServerHandshake(f *testing.F) {
	ch := seedClientHello(f)
	f.Add(record(recordHandshake, ch))
	f.Add(append(record(recordHandshake, ch[:40]), record(recordHandshake, ch[40:])...))
	f.Add(record(recordChangeCipherSpec, []byte{1}))
	cfg := &ServerConfig{GetKey: staticKeys(map[string][]byte{"id": bytes.Repeat([]byte{1}, 32)}), HandshakeTimeout: time.Second}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := Server(&memConn{r: bytes.NewReader(data)}, cfg)
		if err := c.HandshakeContext(context.Background()); err == nil {
			t.Fatal("handshake succeeded on fuzzed input")
		}
	})
}

// FuzzRecordLayer feeds arbitrary records to an established connection.
func FuzzRecordLayer(f *testing.F) {
	suite := suiteByID(TLS_AES_128_GCM_SHA256)
	secret := bytes.Repeat([]byte{7}, 32)
	// Seeds: valid protected records (data, KeyUpdate, alert, ticket).
	w := &Conn{}
	_ = w.out.setTrafficSecret(suite, secret)
	w.writeRecordLocked(recordApplicationData, []byte("hello"))
	w.writeRecordLocked(recordHandshake, marshalKeyUpdate(true))
	w.writeRecordLocked(recordApplicationData, []byte("after"))
	f.Add(append([]byte(nil), w.sendBuf...))
	w.sendBuf = nil
	w.writeRecordLocked(recordAlert, []byte{1, 0})
	f.Add(append([]byte(nil), w.sendBuf...))
	f.Add(record(recordApplicationData, make([]byte, 40)))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &Conn{conn: &memConn{r: bytes.NewReader(data)}, isClient: true}
		_ = c.in.setTrafficSecret(suite, secret)
		_ = c.out.setTrafficSecret(suite, secret)
		c.handshakeDone.Store(true)
		buf := make([]byte, 1024)
		for i := 0; i < 100; i++ {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
}
