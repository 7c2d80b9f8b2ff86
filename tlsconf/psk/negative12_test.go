package psk

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"net"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// Malformed TLS 1.2 input in both directions: one precise alert, no
// panic, no hang.

func hello12(suites ...uint16) *clientHelloMsg {
	return &clientHelloMsg{
		vers: VersionTLS12, random: make([]byte, 32), cipherSuites: suites,
		compressionMethods: []uint8{0}, ems: true, supportedGroups: []CurveID{X25519}, ecPointFormats: []uint8{0},
	}
}

func mustMarshal(t *testing.T, m interface{ marshal() ([]byte, error) }) []byte {
	t.Helper()
	raw, err := m.marshal()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// readUntilAlert reads records from c until an alert and returns its
// level and description.
func readUntilAlert(t *testing.T, c net.Conn) (byte, Alert) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		typ, body := readRecord(t, c)
		if typ == recordAlert && len(body) == 2 {
			return body[0], Alert(body[1])
		}
		if typ == recordAlert {
			return 0, 0 // protected: the caller checks the error instead
		}
	}
}

func TestMalformedFromClient12(t *testing.T) {
	x25519 := func() []byte {
		k, _ := ecdh.X25519().GenerateKey(rand.Reader)
		return k.PublicKey().Bytes()
	}
	cke := func(id string, public []byte, ecdhe bool) []byte {
		raw, _ := (&clientKeyExchangeMsg{identity: []byte(id), public: public}).marshal(ecdhe)
		return raw
	}
	for _, tc := range []struct {
		name   string
		hello  *clientHelloMsg
		server func(*ServerConfig)
		after  []byte // records sent after the server's first flight
		alert  Alert
	}{
		{name: "TLS 1.2 to a TLS 1.3-only server", hello: hello12(TLS_PSK_WITH_AES_128_GCM_SHA256),
			server: func(s *ServerConfig) { s.MinVersion = 0 }, alert: AlertProtocolVersion},
		{name: "no PSK suite", hello: hello12(0xc02b), alert: AlertHandshakeFailure},
		{name: "no null compression", hello: func() *clientHelloMsg {
			m := hello12(TLS_PSK_WITH_AES_128_GCM_SHA256)
			m.compressionMethods = []uint8{1}
			return m
		}(), alert: AlertDecodeError},
		{name: "ECDHE_PSK without a common group", hello: func() *clientHelloMsg {
			m := hello12(TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256)
			m.supportedGroups = []CurveID{0x0019}
			return m
		}(), alert: AlertHandshakeFailure},
		{name: "truncated ClientKeyExchange", hello: hello12(TLS_PSK_WITH_AES_128_GCM_SHA256),
			after: record(recordHandshake, []byte{typeClientKeyExchange, 0, 0, 4, 0, 9, 'a', 'b'}), alert: AlertDecodeError},
		{name: "ClientKeyExchange with trailing bytes", hello: hello12(TLS_PSK_WITH_AES_128_GCM_SHA256),
			after: record(recordHandshake, func() []byte {
				raw := append(cke(testIdentity, nil, false), 0)
				raw[3]++
				return raw
			}()), alert: AlertDecodeError},
		{name: "ECDHE ClientKeyExchange without a key", hello: hello12(TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256),
			after: record(recordHandshake, cke(testIdentity, nil, false)), alert: AlertDecodeError},
		{name: "bad X25519 key", hello: hello12(TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256),
			after: record(recordHandshake, cke(testIdentity, make([]byte, 31), true)), alert: AlertIllegalParameter},
		{name: "unknown identity", hello: hello12(TLS_PSK_WITH_AES_128_GCM_SHA256),
			after: record(recordHandshake, cke("nobody", nil, false)), alert: AlertUnknownPSKIdentity},
		{name: "identity with NUL", hello: hello12(TLS_PSK_WITH_AES_128_GCM_SHA256),
			after: record(recordHandshake, cke("a\x00b", nil, false)), alert: AlertUnknownPSKIdentity},
		{name: "Certificate instead of ClientKeyExchange", hello: hello12(TLS_PSK_WITH_AES_128_GCM_SHA256),
			after: record(recordHandshake, []byte{typeCertificate, 0, 0, 3, 0, 0, 0}), alert: AlertUnexpectedMessage},
		{name: "Finished before ChangeCipherSpec", hello: hello12(TLS_PSK_WITH_AES_128_GCM_SHA256),
			after: append(record(recordHandshake, cke(testIdentity, nil, false)),
				record(recordHandshake, marshalFinished(make([]byte, 12)))...), alert: AlertUnexpectedMessage},
		{name: "bad ChangeCipherSpec", hello: hello12(TLS_PSK_WITH_AES_128_GCM_SHA256),
			after: append(record(recordHandshake, cke(testIdentity, nil, false)),
				record(recordChangeCipherSpec, []byte{2})...), alert: AlertUnexpectedMessage},
		{name: "early ChangeCipherSpec", hello: hello12(TLS_PSK_WITH_AES_128_GCM_SHA256),
			after: record(recordChangeCipherSpec, []byte{1}), alert: AlertUnexpectedMessage},
		{name: "encrypted Finished too short", hello: hello12(TLS_PSK_WITH_AES_128_GCM_SHA256),
			after: append(append(record(recordHandshake, cke(testIdentity, x25519()[:0], false)),
				record(recordChangeCipherSpec, []byte{1})...), record(recordHandshake, make([]byte, 10))...), alert: AlertBadRecordMAC},
		{name: "application data before the handshake ends", hello: hello12(TLS_PSK_WITH_AES_128_GCM_SHA256),
			after: record(recordApplicationData, []byte("GET /")), alert: AlertUnexpectedMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tls12Server(t)
			if tc.server != nil {
				tc.server(cfg)
			}
			cc, sc := testpeer.TCPPair(t)
			s := Server(sc, cfg)
			errc := make(chan error, 1)
			go func() { errc <- s.Handshake() }()
			input := record(recordHandshake, mustMarshal(t, tc.hello))
			if _, err := cc.Write(append(input, tc.after...)); err != nil {
				t.Fatal(err)
			}
			level, a := readUntilAlert(t, cc)
			cc.Close()
			err := <-errc
			s.Close()
			if level != 2 || a != tc.alert {
				t.Fatalf("alert %v (level %d), want %v; server error %v", a, level, tc.alert, err)
			}
			if got, remote, ok := alertOf(err); !ok || remote || got != tc.alert {
				t.Fatalf("server error %v", err)
			}
		})
	}
}

func TestMalformedFromServer12(t *testing.T) {
	sh := func(suite uint16, f func(*serverHelloMsg)) []byte {
		m := &serverHelloMsg{tls12: true, vers: VersionTLS12, random: make([]byte, 32), cipherSuite: suite, ems: true, secureReneg: true}
		if f != nil {
			f(m)
		}
		raw, _ := m.marshal()
		return record(recordHandshake, raw)
	}
	ske := func(m *serverKeyExchangeMsg) []byte {
		raw, _ := m.marshal()
		return record(recordHandshake, raw)
	}
	x25519 := func() []byte {
		k, _ := ecdh.X25519().GenerateKey(rand.Reader)
		return k.PublicKey().Bytes()
	}
	shd := record(recordHandshake, serverHelloDoneMsg)
	cat := func(b ...[]byte) []byte { return bytes.Join(b, nil) }
	for _, tc := range []struct {
		name      string
		client    func(*ClientConfig)
		reply     []byte
		alert     Alert
		encrypted bool // the alert follows our ChangeCipherSpec
	}{
		{name: "unoffered suite", reply: sh(0xc02b, nil), alert: AlertIllegalParameter},
		{name: "TLS 1.1", reply: sh(TLS_PSK_WITH_AES_128_GCM_SHA256, func(m *serverHelloMsg) { m.vers = 0x0302 }), alert: AlertProtocolVersion},
		{name: "downgrade sentinel", client: func(c *ClientConfig) { c.MaxVersion = VersionTLS13 },
			reply: sh(TLS_PSK_WITH_AES_128_GCM_SHA256, func(m *serverHelloMsg) { copy(m.random[24:], downgradeTLS12) }), alert: AlertIllegalParameter},
		{name: "TLS 1.2 to a TLS 1.3-only client", client: func(c *ClientConfig) { c.MinVersion, c.MaxVersion = 0, 0 },
			reply: sh(TLS_PSK_WITH_AES_128_GCM_SHA256, nil), alert: AlertProtocolVersion},
		{name: "renegotiation_info not empty", reply: rawServerHello12(TLS_PSK_WITH_AES_128_GCM_SHA256, []byte{0xff, 0x01, 0, 2, 1, 7}), alert: AlertHandshakeFailure},
		{name: "extended_master_secret with data", reply: rawServerHello12(TLS_PSK_WITH_AES_128_GCM_SHA256, []byte{0, 23, 0, 1, 0}), alert: AlertDecodeError},
		{name: "extension length past the end", reply: rawServerHello12(TLS_PSK_WITH_AES_128_GCM_SHA256, []byte{0, 23, 0, 9}), alert: AlertDecodeError},
		{name: "unoffered extension", reply: rawServerHello12(TLS_PSK_WITH_AES_128_GCM_SHA256, []byte{0, 35, 0, 0}), alert: AlertUnsupportedExtension},
		{name: "truncated ServerKeyExchange", reply: cat(sh(TLS_PSK_WITH_AES_128_GCM_SHA256, nil),
			record(recordHandshake, []byte{typeServerKeyExchange, 0, 0, 3, 0, 5, 'a'})), alert: AlertDecodeError},
		{name: "hint too long", reply: cat(sh(TLS_PSK_WITH_AES_128_GCM_SHA256, nil),
			ske(&serverKeyExchangeMsg{hint: bytes.Repeat([]byte{'h'}, 300)})), alert: AlertHandshakeFailure},
		{name: "ECDHE_PSK without ServerKeyExchange", reply: cat(sh(TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256, nil), shd), alert: AlertUnexpectedMessage},
		{name: "explicit curve", reply: cat(sh(TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256, nil),
			record(recordHandshake, []byte{typeServerKeyExchange, 0, 0, 6, 0, 0, 1, 0, 0x1d, 0})), alert: AlertDecodeError},
		{name: "curve type explicit_prime", reply: cat(sh(TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256, nil),
			record(recordHandshake, []byte{typeServerKeyExchange, 0, 0, 7, 0, 0, 1, 0, 0x1d, 1, 4})), alert: AlertIllegalParameter},
		{name: "unoffered group", reply: cat(sh(TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256, nil),
			ske(&serverKeyExchangeMsg{ecdhe: true, group: 0x0019, public: []byte{4, 1}})), alert: AlertIllegalParameter},
		{name: "bad server key", reply: cat(sh(TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256, nil),
			ske(&serverKeyExchangeMsg{ecdhe: true, group: X25519, public: make([]byte, 32)}), shd), alert: AlertIllegalParameter},
		{name: "Certificate", reply: cat(sh(TLS_PSK_WITH_AES_128_GCM_SHA256, nil),
			record(recordHandshake, []byte{typeCertificate, 0, 0, 3, 0, 0, 0})), alert: AlertUnexpectedMessage},
		{name: "ServerHelloDone with a body", reply: cat(sh(TLS_PSK_WITH_AES_128_GCM_SHA256, nil),
			record(recordHandshake, []byte{typeServerHelloDone, 0, 0, 1, 0})), alert: AlertDecodeError},
		{name: "Finished without ChangeCipherSpec", encrypted: true, reply: cat(sh(TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256, nil),
			ske(&serverKeyExchangeMsg{ecdhe: true, group: X25519, public: x25519()}), shd,
			record(recordHandshake, marshalFinished(make([]byte, 12)))), alert: AlertUnexpectedMessage},
		{name: "garbage after ChangeCipherSpec", encrypted: true, reply: cat(sh(TLS_PSK_WITH_AES_128_GCM_SHA256, nil), shd,
			record(recordChangeCipherSpec, []byte{1}), record(recordHandshake, make([]byte, 40))), alert: AlertBadRecordMAC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc, sc := testpeer.TCPPair(t)
			cfg := tls12Client(t)
			if tc.client != nil {
				tc.client(cfg)
			}
			c := Client(cc, cfg)
			errc := make(chan error, 1)
			go func() { errc <- c.Handshake() }()
			_ = sc.SetDeadline(time.Now().Add(5 * time.Second))
			_, body := readRecord(t, sc)
			if _, err := parseClientHello(body); err != nil {
				t.Fatal(err)
			}
			if _, err := sc.Write(tc.reply); err != nil {
				t.Fatal(err)
			}
			level, a := readUntilAlert(t, sc)
			err := <-errc
			c.Close()
			if level == 0 && tc.encrypted {
				level, a = 2, tc.alert // sent under our write keys
			}
			if level != 2 || a != tc.alert {
				t.Fatalf("alert %v (level %d), want %v; client error %v", a, level, tc.alert, err)
			}
			if got, remote, ok := alertOf(err); !ok || remote || got != tc.alert {
				t.Fatalf("client error %v", err)
			}
		})
	}
}

// rawServerHello12 is a TLS 1.2 ServerHello record with the given raw
// extensions block content.
func rawServerHello12(suite uint16, exts []byte) []byte {
	body := append([]byte{3, 3}, make([]byte, 32)...)
	body = append(body, 0, byte(suite>>8), byte(suite), 0, byte(len(exts)>>8), byte(len(exts)))
	body = append(body, exts...)
	return record(recordHandshake, append([]byte{typeServerHello, 0, byte(len(body) >> 8), byte(len(body))}, body...))
}
