package psk

import (
	"bytes"
	"crypto/tls"
	"net"
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// A client that offers TLS 1.3 and TLS 1.2 but no TLS 1.3 pre_shared_key
// (Qt's default: TLS 1.2 PSK suites only) must not get a TLS 1.2
// ServerHello from a server that speaks TLS 1.3: RFC 8446 §4.1.3 makes
// the server stamp DOWNGRD\x01 in its random, and every compliant TLS 1.3
// client aborts on it. Such a client gets TLS 1.3, where the PSK server
// has nothing to offer it.

// dualHello is a ClientHello offering TLS 1.3 and 1.2, a TLS 1.3 suite, a
// TLS 1.2 PSK suite and a certificate suite, X25519, and no
// pre_shared_key; with sigAlgs it also has signature_algorithms, as every
// certificate-capable client sends.
func dualHello(t *testing.T, sigAlgs bool) []byte {
	t.Helper()
	m, exts := helloParts(t)
	m.cipherSuites = []uint16{TLS_AES_128_GCM_SHA256, TLS_PSK_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
	var out []ext
	for _, e := range exts {
		switch e.typ {
		case extPreSharedKey, extPSKModes:
			continue
		case extSupportedVersions:
			e.data = []byte{4, 0x03, 0x04, 0x03, 0x03}
		}
		out = append(out, e)
	}
	out = append(out, ext{typ: extExtendedMS}, ext{typ: extECPointFormats, data: []byte{1, 0}})
	if sigAlgs {
		// ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256
		out = append(out, ext{typ: extSignatureAlgorithms, data: []byte{0, 4, 0x04, 0x03, 0x08, 0x04}})
	}
	return buildHello(m, out)
}

// firstAnswer sends a ClientHello on client and returns the first record it
// answers with.
func firstAnswer(t *testing.T, client net.Conn, hello []byte) []byte {
	t.Helper()
	if _, err := client.Write(record(recordHandshake, hello)); err != nil {
		t.Fatal(err)
	}
	return readRecordFrom(t, client)
}

func TestTLS13ClientWithoutPSK(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sigAlgs bool
		maxVers uint16 // server MaxVersion (0: TLS 1.3)
		alert   Alert  // 0: a TLS 1.2 ServerHello without the sentinel
	}{
		// A well-formed certificate-capable hello: we have no
		// certificate, as OpenSSL without one answers.
		{"certificate-capable", true, 0, AlertHandshakeFailure},
		// §9.2: without pre_shared_key, signature_algorithms and
		// supported_groups are mandatory.
		{"no signature_algorithms", false, 0, AlertMissingExtension},
		// A server limited to TLS 1.2 does not speak TLS 1.3 and sets no
		// sentinel: that is how Qt-default clients are served.
		{"server limited to TLS 1.2", true, VersionTLS12, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc, sc := testpeer.TCPPair(t)
			cfg := tls12Server(t)
			cfg.MaxVersion = tc.maxVers
			s := Server(sc, cfg)
			errc := make(chan error, 1)
			go func() { errc <- s.Handshake() }()
			rec := firstAnswer(t, cc, dualHello(t, tc.sigAlgs))
			if tc.alert != 0 {
				if rec[0] != recordAlert || len(rec) != recordHeaderLen+2 || rec[5] != 2 || Alert(rec[6]) != tc.alert {
					if rec[0] == recordHandshake && rec[recordHeaderLen] == typeServerHello {
						sh, err := parseServerHello(rec[recordHeaderLen:])
						if err == nil && bytes.Equal(sh.random[24:], downgradeTLS12) {
							t.Fatalf("a TLS 1.3 client got a TLS 1.2 ServerHello with the downgrade sentinel")
						}
					}
					t.Fatalf("answer % x, want fatal alert %v", rec[:min(len(rec), 12)], tc.alert)
				}
				if err := <-errc; !isLocalAlert(err, tc.alert) {
					t.Fatalf("server error %v", err)
				}
				s.Close()
				return
			}
			cc.Close()
			<-errc
			s.Close()
			sh := recordServerHello(t, rec)
			if sh.vers != VersionTLS12 || sh.supportedVersion != 0 || bytes.Equal(sh.random[24:], downgradeTLS12) {
				t.Fatalf("ServerHello version 0x%04x/0x%04x, random %x", sh.vers, sh.supportedVersion, sh.random)
			}
		})
	}
}

func isLocalAlert(err error, want Alert) bool {
	a, remote, ok := alertOf(err)
	return ok && !remote && a == want
}

// TestListenerRoutesTLS13CertificateClients: on one port with TLS 1.2 PSK
// and TLS12PreferPSK, a TLS 1.3-capable hello without pre_shared_key that
// also offers a TLS 1.2 PSK suite goes to crypto/tls (which answers with
// TLS 1.3 and the certificate), because the PSK server would have to
// refuse it. With the PSK configuration limited to TLS 1.2 it goes to the
// PSK server, which answers TLS 1.2 without the sentinel.
func TestListenerRoutesTLS13CertificateClients(t *testing.T) {
	cert, _, _ := testCert(t)
	certCfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	for _, tc := range []struct {
		name    string
		maxVers uint16
		psk     bool
		version uint16
	}{
		{"PSK up to TLS 1.3", 0, false, VersionTLS13},
		{"PSK limited to TLS 1.2", VersionTLS12, true, VersionTLS12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tls12Server(t)
			cfg.MaxVersion = tc.maxVers
			cfg.TLS12PreferPSK = true
			cc, sc := testpeer.TCPPair(t)
			m := Mux(sc, cfg, certCfg)
			errc := make(chan error, 1)
			go func() { errc <- m.HandshakeContext(t.Context()) }()
			rec := firstAnswer(t, cc, dualHello(t, true))
			cc.Close()
			<-errc
			m.Close()
			if got := m.PSK() != nil; got != tc.psk {
				t.Fatalf("routed to PSK: %v, want %v", got, tc.psk)
			}
			sh := recordServerHello(t, rec)
			v := sh.vers
			if sh.supportedVersion != 0 {
				v = sh.supportedVersion
			}
			if v != tc.version || (v == VersionTLS12 && bytes.Equal(sh.random[24:], downgradeTLS12)) {
				t.Fatalf("ServerHello version 0x%04x, random %x", v, sh.random)
			}
		})
	}
}
