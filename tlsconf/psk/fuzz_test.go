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
