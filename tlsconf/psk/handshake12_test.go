package psk

import (
	"bytes"
	"context"
	"testing"
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
