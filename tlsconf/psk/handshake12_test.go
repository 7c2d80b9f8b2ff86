package psk

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

func tls12Server(t testing.TB) *ServerConfig {
	cfg := testServerConfig(t)
	cfg.MinVersion = VersionTLS12
	return cfg
}

func tls12Client(t testing.TB) *ClientConfig {
	cfg := testClientConfig(t)
	cfg.MinVersion, cfg.MaxVersion = VersionTLS12, VersionTLS12
	return cfg
}

func TestTLS12Suites(t *testing.T) {
	for _, suite := range []uint16{
		TLS_PSK_WITH_AES_128_GCM_SHA256, TLS_PSK_WITH_AES_256_GCM_SHA384,
		TLS_PSK_WITH_CHACHA20_POLY1305_SHA256, TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256,
	} {
		for _, hint := range []string{"", "proxy-hint"} {
			t.Run(CipherSuiteName(suite)+"/hint="+hint, func(t *testing.T) {
				scfg := tls12Server(t)
				scfg.IdentityHint = []byte(hint)
				ccfg := tls12Client(t)
				ccfg.TLS12CipherSuites = []uint16{suite}
				var gotHint []byte
				key := ccfg.Key
				ccfg.GetKey = func(_ context.Context, h []byte) ([]byte, []byte, error) {
					gotHint = h
					return []byte(testIdentity), key, nil
				}
				c, s, cerr, serr := handshakePair(t, ccfg, scfg)
				if cerr != nil || serr != nil {
					t.Fatalf("client %v, server %v", cerr, serr)
				}
				for _, st := range []ConnectionState{c.ConnectionState(), s.ConnectionState()} {
					if st.Version != VersionTLS12 || st.CipherSuite != suite || !st.ExtendedMasterSecret ||
						string(st.Identity) != testIdentity || string(st.IdentityHint) != hint {
						t.Fatalf("state %+v", st)
					}
					if (st.Group != 0) != (suite == TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256) {
						t.Fatalf("group %v", st.Group)
					}
				}
				if string(gotHint) != hint {
					t.Fatalf("hook got hint %q", gotHint)
				}
				echoOnce(t, c, s, bytes.Repeat([]byte("x"), 40000))
				echoOnce(t, s, c, []byte("back"))
				if err := c.KeyUpdate(false); err == nil {
					t.Fatal("KeyUpdate in TLS 1.2")
				}
				c.Close()
				buf := make([]byte, 1)
				if _, err := s.Read(buf); err == nil {
					t.Fatal("no EOF after close_notify")
				}
				s.Close()
			})
		}
	}
}

func TestVersionNegotiation(t *testing.T) {
	const v12, v13 = VersionTLS12, VersionTLS13
	for _, tc := range []struct {
		name                   string
		cmin, cmax, smin, smax uint16
		want                   uint16
		alert                  Alert
		hints                  []string
	}{
		{name: "1.3+1.2 client, 1.3 server", cmin: v12, cmax: v13, want: v13, hints: []string{""}},
		{name: "1.3+1.2 client, 1.3+1.2 server", cmin: v12, cmax: v13, smin: v12, want: v13, hints: []string{""}},
		// GetKey runs before the ClientHello (TLS 1.3, no hint) and again
		// with the hint once the server chose TLS 1.2.
		{name: "1.3+1.2 client, 1.2 server", cmin: v12, cmax: v13, smin: v12, smax: v12, want: v12, hints: []string{"", testHint}},
		// The server marks its random (it speaks TLS 1.3); a TLS 1.2-only
		// client does not mind.
		{name: "1.2 client, 1.3+1.2 server", cmin: v12, cmax: v12, smin: v12, want: v12, hints: []string{testHint}},
		{name: "1.2 client, 1.3 server", cmin: v12, cmax: v12, alert: AlertProtocolVersion},
		{name: "1.3 client, 1.2 server", smin: v12, smax: v12, alert: AlertProtocolVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h hintRecorder
			ccfg := h.config(t, tc.cmin, tc.cmax)
			scfg := testServerConfig(t)
			scfg.MinVersion, scfg.MaxVersion = tc.smin, tc.smax
			scfg.IdentityHint = []byte(testHint)
			c, s, cerr, serr := handshakePair(t, ccfg, scfg)
			if tc.alert != 0 {
				if a, remote, ok := alertOf(serr); !ok || remote || a != tc.alert {
					t.Fatalf("server error %v, want sent %v (client: %v)", serr, tc.alert, cerr)
				}
				return
			}
			if cerr != nil || serr != nil {
				t.Fatalf("client %v, server %v", cerr, serr)
			}
			if v := c.ConnectionState().Version; v != tc.want || s.ConnectionState().Version != tc.want {
				t.Fatalf("version 0x%04x", v)
			}
			if fmt.Sprint(h.hints) != fmt.Sprint(tc.hints) {
				t.Fatalf("GetKey hints %q, want %q", h.hints, tc.hints)
			}
			echoOnce(t, c, s, []byte("hello"))
		})
	}
}

// TestDowngradeSentinel: a client that offered TLS 1.3 refuses a TLS 1.2
// ServerHello carrying the RFC 8446 §4.1.3 sentinel; covered on the wire
// in TestMalformedFromServer12. Here: our server sets it only when it
// speaks TLS 1.3.
func TestDowngradeSentinel(t *testing.T) {
	for _, smax := range []uint16{VersionTLS12, VersionTLS13} {
		cc, sc := testpeer.TCPPair(t)
		scfg := tls12Server(t)
		scfg.MaxVersion = smax
		s := Server(sc, scfg)
		errc := make(chan error, 1)
		go func() { errc <- s.Handshake() }()
		if _, err := cc.Write(record(recordHandshake, mustMarshal(t, hello12(TLS_PSK_WITH_AES_128_GCM_SHA256)))); err != nil {
			t.Fatal(err)
		}
		_, body := readRecord(t, cc)
		sh, err := parseServerHello(body[:4+int(body[3])])
		if err != nil {
			t.Fatal(err)
		}
		marked := bytes.Equal(sh.random[24:], downgradeTLS12)
		if marked != (smax == VersionTLS13) {
			t.Fatalf("MaxVersion 0x%04x: sentinel %v", smax, marked)
		}
		cc.Close()
		<-errc
		s.Close()
	}
}
