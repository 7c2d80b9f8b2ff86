package psk

import (
	"bytes"
	"io"
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

func TestHandshakeGoToGo(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client func(*ClientConfig)
		server func(*ServerConfig)
		suite  uint16
		group  CurveID
		hrr    bool
	}{
		{name: "defaults", suite: TLS_AES_128_GCM_SHA256, group: X25519},
		{name: "chacha", client: func(c *ClientConfig) { c.CipherSuites = []uint16{TLS_CHACHA20_POLY1305_SHA256} }, suite: TLS_CHACHA20_POLY1305_SHA256, group: X25519},
		{name: "sha384", client: func(c *ClientConfig) { c.Hash = SHA384 }, server: func(s *ServerConfig) { s.Hash = SHA384 }, suite: TLS_AES_256_GCM_SHA384, group: X25519},
		{name: "p256", server: func(s *ServerConfig) { s.Groups = []CurveID{P256} }, suite: TLS_AES_128_GCM_SHA256, group: P256},
		{name: "hrr", client: func(c *ClientConfig) { c.KeyShares = []CurveID{P256} }, server: func(s *ServerConfig) { s.Groups = []CurveID{X25519} }, suite: TLS_AES_128_GCM_SHA256, group: X25519, hrr: true},
		{name: "psk_ke", client: func(c *ClientConfig) { c.Modes = []Mode{ModePSKOnly} }, server: func(s *ServerConfig) { s.AllowPSKOnly = true }, suite: TLS_AES_128_GCM_SHA256, group: 0},
		{name: "both modes prefer dhe", client: func(c *ClientConfig) { c.Modes = []Mode{ModePSKOnly, ModeDHE} }, server: func(s *ServerConfig) { s.AllowPSKOnly = true }, suite: TLS_AES_128_GCM_SHA256, group: X25519},
		{name: "alpn", client: func(c *ClientConfig) { c.NextProtos = []string{"h2", "http/1.1"}; c.ServerName = "device.example" }, server: func(s *ServerConfig) { s.NextProtos = []string{"http/1.1"} }, suite: TLS_AES_128_GCM_SHA256, group: X25519},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ccfg, scfg := tweakedConfigs(t, tc.client, tc.server)
			c, s, cerr, serr := handshakePair(t, ccfg, scfg)
			if cerr != nil || serr != nil {
				t.Fatalf("client: %v, server: %v", cerr, serr)
			}
			for _, st := range []ConnectionState{c.ConnectionState(), s.ConnectionState()} {
				if st.CipherSuite != tc.suite || st.Group != tc.group || st.DidHelloRetryRequest != tc.hrr ||
					string(st.Identity) != testIdentity || st.Version != VersionTLS13 || !st.HandshakeComplete {
					t.Fatalf("state %+v", st)
				}
			}
			if tc.name == "alpn" {
				if c.ConnectionState().NegotiatedProtocol != "http/1.1" || s.ConnectionState().ServerName != "device.example" {
					t.Fatalf("alpn/sni: %+v", s.ConnectionState())
				}
			}
			echoOnce(t, c, s, []byte("hello"))
			big := bytes.Repeat([]byte("0123456789abcdef"), 5000) // several records
			echoOnce(t, s, c, big)
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("server read after close_notify: %v", err)
			}
			s.Close()
		})
	}
}

func TestHandshakeFailures(t *testing.T) {
	other := bytes.Repeat([]byte{7}, 32)
	for _, tc := range []struct {
		name        string
		client      func(*ClientConfig)
		server      func(*ServerConfig)
		serverAlert Alert // what the server sends (seen by the client as remote)
	}{
		{name: "wrong key", client: func(c *ClientConfig) { c.Key = other }, serverAlert: AlertIllegalParameter},
		{name: "unknown identity", client: func(c *ClientConfig) { c.Identity = []byte("nobody") }, serverAlert: AlertHandshakeFailure},
		{name: "hash mismatch", client: func(c *ClientConfig) { c.Hash = SHA384 }, serverAlert: AlertHandshakeFailure},
		{name: "psk_ke not allowed", client: func(c *ClientConfig) { c.Modes = []Mode{ModePSKOnly} }, serverAlert: AlertHandshakeFailure},
		{name: "no common group", client: func(c *ClientConfig) { c.Groups = []CurveID{P384} }, serverAlert: AlertHandshakeFailure},
		{name: "alpn mismatch", client: func(c *ClientConfig) { c.NextProtos = []string{"h2"} }, server: func(s *ServerConfig) { s.NextProtos = []string{"http/1.1"} }, serverAlert: AlertNoApplicationProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ccfg, scfg := tweakedConfigs(t, tc.client, tc.server)
			_, _, cerr, serr := handshakePair(t, ccfg, scfg)
			a, remote, ok := alertOf(serr)
			if !ok || remote || a != tc.serverAlert {
				t.Fatalf("server error %v, want sent %v", serr, tc.serverAlert)
			}
			a, remote, ok = alertOf(cerr)
			if !ok || !remote || a != tc.serverAlert {
				t.Fatalf("client error %v, want received %v", cerr, tc.serverAlert)
			}
		})
	}
}

func TestKeyUpdateGoToGo(t *testing.T) {
	c, s := openPair(t)
	for i := 0; i < 3; i++ {
		if err := c.KeyUpdate(true); err != nil {
			t.Fatal(err)
		}
		echoOnce(t, c, s, []byte("after client update"))
		if err := s.KeyUpdate(false); err != nil {
			t.Fatal(err)
		}
		echoOnce(t, s, c, []byte("after server update"))
	}
}

func TestClientKeyValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(*ClientConfig)
	}{
		{"short key", func(c *ClientConfig) { c.Key = make([]byte, 15) }},
		{"long key", func(c *ClientConfig) { c.Key = make([]byte, MaxKeyLength+1) }},
		{"long identity", func(c *ClientConfig) { c.Identity = bytes.Repeat([]byte("a"), MaxIdentityLength+1) }},
		{"empty identity", func(c *ClientConfig) { c.Identity = nil }},
		{"NUL identity", func(c *ClientConfig) { c.Identity = []byte("a\x00b") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ccfg := testClientConfig(t)
			tc.cfg(ccfg)
			cc, _ := testpeer.TCPPair(t)
			err := Client(cc, ccfg).Handshake()
			if err == nil {
				t.Fatal("handshake succeeded")
			}
			if !errorsIs(err, ErrKeyRefused) {
				t.Fatalf("error %v, want ErrKeyRefused", err)
			}
		})
	}
}
