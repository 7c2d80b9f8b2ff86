package psk

import (
	"crypto/ecdh"
	"crypto/rand"
	"io"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// Malformed input from a client: each case must end with one precise
// alert from our server, never a panic or a hang.

type ext struct {
	typ  uint16
	data []byte
}

// helloParts returns a valid ClientHello's fixed part and extensions.
func helloParts(t testing.TB) (*clientHelloMsg, []ext) {
	t.Helper()
	priv, _ := ecdh.X25519().GenerateKey(rand.Reader)
	m := &clientHelloMsg{
		vers: versionTLS12, random: make([]byte, 32), sessionID: make([]byte, 32),
		cipherSuites: []uint16{TLS_AES_128_GCM_SHA256}, compressionMethods: []uint8{0},
		supportedGroups: []CurveID{X25519}, keyShares: []keyShare{{X25519, priv.PublicKey().Bytes()}},
		supportedVersions: []uint16{VersionTLS13}, pskModes: []uint8{modePSKDHEKE},
		identities: []pskIdentity{{identity: []byte(testIdentity)}}, binders: [][]byte{make([]byte, 32)},
	}
	raw, err := m.marshal()
	if err != nil {
		t.Fatal(err)
	}
	// Split the extensions back out.
	s := cryptobyte.String(raw[4:])
	var skip cryptobyte.String
	var exts cryptobyte.String
	s.Skip(2 + 32)
	s.ReadUint8LengthPrefixed(&skip)
	s.ReadUint16LengthPrefixed(&skip)
	s.ReadUint8LengthPrefixed(&skip)
	s.ReadUint16LengthPrefixed(&exts)
	var list []ext
	for !exts.Empty() {
		var e ext
		var d cryptobyte.String
		exts.ReadUint16(&e.typ)
		exts.ReadUint16LengthPrefixed(&d)
		e.data = []byte(d)
		list = append(list, e)
	}
	return m, list
}

// buildHello encodes a ClientHello from parts, extensions in the given order.
func buildHello(m *clientHelloMsg, exts []ext) []byte {
	var b cryptobyte.Builder
	b.AddUint8(typeClientHello)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		m.addHead(b)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, e := range exts {
				b.AddUint16(e.typ)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e.data) })
			}
		})
	})
	return b.BytesOrPanic()
}

func record(typ uint8, body []byte) []byte {
	return append([]byte{typ, 3, 1, byte(len(body) >> 8), byte(len(body))}, body...)
}

// alertFromServer sends raw bytes to our server and returns the alert it
// answers with, and the server's handshake error.
func alertFromServer(t *testing.T, input []byte) (Alert, error) {
	t.Helper()
	cc, sc := testpeer.TCPPair(t)
	s := Server(sc, testServerConfig(t))
	errc := make(chan error, 1)
	go func() { errc <- s.Handshake() }()
	if _, err := cc.Write(input); err != nil {
		t.Fatal(err)
	}
	_ = cc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hdr [7]byte
	if _, err := io.ReadFull(cc, hdr[:]); err != nil {
		t.Fatalf("no alert: %v", err)
	}
	if hdr[0] != recordAlert || hdr[4] != 2 || hdr[5] != 2 {
		t.Fatalf("answer % x is not a fatal alert", hdr)
	}
	cc.Close()
	err := <-errc
	s.Close()
	return Alert(hdr[6]), err
}

func TestMalformedClientHello(t *testing.T) {
	valid := func(t *testing.T) []byte {
		m, exts := helloParts(t)
		return buildHello(m, exts)
	}
	withExts := func(f func([]ext) []ext) func(*testing.T) []byte {
		return func(t *testing.T) []byte {
			m, exts := helloParts(t)
			return buildHello(m, f(exts))
		}
	}
	withMsg := func(f func(*clientHelloMsg)) func(*testing.T) []byte {
		return func(t *testing.T) []byte {
			m, exts := helloParts(t)
			f(m)
			return buildHello(m, exts)
		}
	}
	find := func(exts []ext, typ uint16) int {
		for i, e := range exts {
			if e.typ == typ {
				return i
			}
		}
		return -1
	}
	for _, tc := range []struct {
		name  string
		hello func(*testing.T) []byte
		raw   func([]byte) []byte // applied to the records
		alert Alert
	}{
		{name: "truncated", hello: func(t *testing.T) []byte {
			h := valid(t)
			h = h[:len(h)-10]
			n := len(h) - 4
			h[1], h[2], h[3] = byte(n>>16), byte(n>>8), byte(n)
			return h
		}, alert: AlertDecodeError},
		{name: "extension length past the end", hello: withExts(func(e []ext) []ext {
			i := find(e, extSupportedVersions)
			e[i].data = []byte{8, 3, 4}
			return e
		}), alert: AlertDecodeError},
		{name: "duplicate extension", hello: withExts(func(e []ext) []ext {
			return append([]ext{e[find(e, extSupportedVersions)]}, e...)
		}), alert: AlertIllegalParameter},
		{name: "pre_shared_key not last", hello: withExts(func(e []ext) []ext {
			i := find(e, extPreSharedKey)
			return append([]ext{e[i]}, e[:i]...)
		}), alert: AlertIllegalParameter},
		{name: "two binders for one identity", hello: withExts(func(e []ext) []ext {
			i := find(e, extPreSharedKey)
			d := e[i].data
			binders := make([]byte, 0, 2+66)
			binders = append(binders, 0, 66, 32)
			binders = append(binders, make([]byte, 32)...)
			binders = append(binders, 32)
			binders = append(binders, make([]byte, 32)...)
			idsLen := int(d[0])<<8 | int(d[1])
			e[i].data = append(append([]byte{}, d[:2+idsLen]...), binders...)
			return e
		}), alert: AlertIllegalParameter},
		{name: "short binder", hello: withExts(func(e []ext) []ext {
			i := find(e, extPreSharedKey)
			d := e[i].data
			idsLen := int(d[0])<<8 | int(d[1])
			e[i].data = append(append([]byte{}, d[:2+idsLen]...), 0, 17, 16)
			e[i].data = append(e[i].data, make([]byte, 16)...)
			return e
		}), alert: AlertDecodeError},
		{name: "no supported_versions", hello: withExts(func(e []ext) []ext {
			i := find(e, extSupportedVersions)
			return append(e[:i], e[i+1:]...)
		}), alert: AlertProtocolVersion},
		{name: "no psk_key_exchange_modes", hello: withExts(func(e []ext) []ext {
			i := find(e, extPSKModes)
			return append(e[:i], e[i+1:]...)
		}), alert: AlertMissingExtension},
		// §9.2: without pre_shared_key, signature_algorithms is mandatory.
		{name: "no pre_shared_key nor signature_algorithms", hello: withExts(func(e []ext) []ext {
			return e[:find(e, extPreSharedKey)]
		}), alert: AlertMissingExtension},
		// A certificate client: none here (OpenSSL answers the same).
		{name: "no pre_shared_key, certificate-capable", hello: withExts(func(e []ext) []ext {
			return append(e[:find(e, extPreSharedKey)], ext{typ: extSignatureAlgorithms, data: []byte{0, 2, 0x04, 0x03}})
		}), alert: AlertHandshakeFailure},
		{name: "compression", hello: withMsg(func(m *clientHelloMsg) { m.compressionMethods = []uint8{1, 0} }), alert: AlertIllegalParameter},
		{name: "key share outside supported_groups", hello: withMsg(func(m *clientHelloMsg) { m.keyShares[0].group = P256 }), alert: AlertIllegalParameter},
		{name: "bad X25519 share", hello: withMsg(func(m *clientHelloMsg) { m.keyShares[0].data = make([]byte, 31) }), alert: AlertIllegalParameter},
		{name: "bad binder", hello: valid, alert: AlertIllegalParameter},
		{name: "application data first", raw: func([]byte) []byte { return record(recordApplicationData, []byte("GET /")) }, alert: AlertUnexpectedMessage},
		{name: "ChangeCipherSpec first", raw: func([]byte) []byte { return record(recordChangeCipherSpec, []byte{1}) }, alert: AlertUnexpectedMessage},
		{name: "record overflow", raw: func([]byte) []byte { return record(recordHandshake, make([]byte, maxPlaintext+1)) }, alert: AlertRecordOverflow},
		{name: "empty handshake record", raw: func([]byte) []byte { return record(recordHandshake, nil) }, alert: AlertUnexpectedMessage},
		{name: "ServerHello to a server", raw: func([]byte) []byte { return record(recordHandshake, []byte{typeServerHello, 0, 0, 0}) }, alert: AlertUnexpectedMessage},
		{name: "oversized handshake message", raw: func([]byte) []byte { return record(recordHandshake, []byte{typeClientHello, 0x10, 0, 0}) }, alert: AlertUnexpectedMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var input []byte
			if tc.hello != nil {
				input = record(recordHandshake, tc.hello(t))
			}
			if tc.raw != nil {
				input = tc.raw(input)
			}
			a, err := alertFromServer(t, input)
			if a != tc.alert {
				t.Fatalf("alert %v, want %v (server error: %v)", a, tc.alert, err)
			}
			if got, remote, ok := alertOf(err); !ok || remote || got != tc.alert {
				t.Fatalf("server error %v", err)
			}
		})
	}
}

// TestParseClientHelloExtensionRules checks the extension rules in the
// parser alone, where no failing binder can give the same alert: a
// duplicate extension and a pre_shared_key before another extension are
// illegal_parameter (§4.2, §4.2.11); the same extensions in order parse.
func TestParseClientHelloExtensionRules(t *testing.T) {
	m, exts := helloParts(t)
	last := len(exts) - 1
	if exts[last].typ != extPreSharedKey {
		t.Fatalf("helloParts: last extension is %d, want pre_shared_key", exts[last].typ)
	}
	if _, err := parseClientHello(buildHello(m, exts)); err != nil {
		t.Fatalf("valid ClientHello: %v", err)
	}
	for _, tc := range []struct {
		name string
		exts []ext
	}{
		{"duplicate extension", append([]ext{exts[0]}, exts...)},
		{"pre_shared_key not last", append([]ext{exts[last]}, exts[:last]...)},
	} {
		_, err := parseClientHello(buildHello(m, tc.exts))
		if a, _, ok := alertOf(err); !ok || a != AlertIllegalParameter {
			t.Errorf("%s: %v, want illegal_parameter", tc.name, err)
		}
	}
}

// TestMalformedFromServer feeds a client bad server flights.
func TestMalformedFromServer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply func(ch *clientHelloMsg) []byte
		alert Alert
	}{
		{"ServerHello with an unoffered suite", func(ch *clientHelloMsg) []byte {
			sh := &serverHelloMsg{vers: versionTLS12, random: make([]byte, 32), sessionID: ch.sessionID, cipherSuite: 0x1302, supportedVersion: VersionTLS13, hasPSK: true}
			raw, _ := sh.marshal()
			return record(recordHandshake, raw)
		}, AlertIllegalParameter},
		{"ServerHello not echoing the session ID", func(ch *clientHelloMsg) []byte {
			sh := &serverHelloMsg{vers: versionTLS12, random: make([]byte, 32), sessionID: make([]byte, 32), cipherSuite: 0x1301, supportedVersion: VersionTLS13, hasPSK: true}
			raw, _ := sh.marshal()
			return record(recordHandshake, raw)
		}, AlertIllegalParameter},
		{"ServerHello selecting identity 1", func(ch *clientHelloMsg) []byte {
			sh := &serverHelloMsg{vers: versionTLS12, random: make([]byte, 32), sessionID: ch.sessionID, cipherSuite: 0x1301, supportedVersion: VersionTLS13, hasPSK: true, selectedIdentity: 1, keyShare: ch.keyShares[0]}
			raw, _ := sh.marshal()
			return record(recordHandshake, raw)
		}, AlertIllegalParameter},
		{"ServerHello without pre_shared_key", func(ch *clientHelloMsg) []byte {
			sh := &serverHelloMsg{vers: versionTLS12, random: make([]byte, 32), sessionID: ch.sessionID, cipherSuite: 0x1301, supportedVersion: VersionTLS13, keyShare: ch.keyShares[0]}
			raw, _ := sh.marshal()
			return record(recordHandshake, raw)
		}, AlertHandshakeFailure},
		{"TLS 1.2 ServerHello", func(ch *clientHelloMsg) []byte {
			body := append([]byte{3, 3}, make([]byte, 32)...)
			body = append(body, byte(len(ch.sessionID)))
			body = append(body, ch.sessionID...)
			body = append(body, 0x00, 0xa8, 0) // TLS_PSK_WITH_AES_128_GCM_SHA256, no extensions
			return record(recordHandshake, append([]byte{typeServerHello, 0, 0, byte(len(body))}, body...))
		}, AlertProtocolVersion},
		{"ServerHello selecting version 0", func(ch *clientHelloMsg) []byte {
			sh := &serverHelloMsg{vers: versionTLS12, random: make([]byte, 32), sessionID: ch.sessionID, cipherSuite: 0x1301}
			raw, _ := sh.marshal()
			return record(recordHandshake, raw)
		}, AlertIllegalParameter},
		{"HelloRetryRequest changing nothing", func(ch *clientHelloMsg) []byte {
			sh := &serverHelloMsg{vers: versionTLS12, random: helloRetryRequestRandom[:], sessionID: ch.sessionID, cipherSuite: 0x1301, supportedVersion: VersionTLS13, selectedGroup: X25519}
			raw, _ := sh.marshal()
			return record(recordHandshake, raw)
		}, AlertIllegalParameter},
		{"alert", func(*clientHelloMsg) []byte { return record(recordAlert, []byte{2, 40}) }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc, sc := testpeer.TCPPair(t)
			c := Client(cc, testClientConfig(t))
			errc := make(chan error, 1)
			go func() { errc <- c.Handshake() }()
			_ = sc.SetDeadline(time.Now().Add(5 * time.Second))
			_, body := readRecord(t, sc)
			ch, err := parseClientHello(body)
			if err != nil {
				t.Fatal(err)
			}
			sc.Write(tc.reply(ch))
			err = <-errc
			c.Close()
			a, remote, ok := alertOf(err)
			if tc.alert == 0 {
				if !ok || !remote || a != AlertHandshakeFailure {
					t.Fatalf("error %v", err)
				}
				return
			}
			if !ok || remote || a != tc.alert {
				t.Fatalf("client error %v, want sent %v", err, tc.alert)
			}
			var ans [7]byte
			if _, err := io.ReadFull(sc, ans[:]); err != nil || ans[0] != recordAlert || Alert(ans[6]) != tc.alert {
				t.Fatalf("alert on the wire % x (%v)", ans, err)
			}
		})
	}
}
