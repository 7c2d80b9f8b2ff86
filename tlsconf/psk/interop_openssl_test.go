package psk

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// Interop with OpenSSL 3 s_server/s_client -psk (TLS 1.3 external PSK,
// SHA-256) on 127.0.0.1, in both roles.

// startOpenSSLServer runs s_server -nocert -psk for one connection,
// reversing each line (-rev: the palindrome comes back unchanged).
func startOpenSSLServer(t *testing.T, extra ...string) (string, *peer) {
	t.Helper()
	bin := lookPeer(t, "openssl", "openssl")
	addr := "127.0.0.1:" + freePort(t)
	args := append([]string{"s_server", "-accept", addr, "-nocert", "-psk", testKeyHex,
		"-psk_identity", testIdentity, "-naccept", "1", "-rev", "-tls1_3"}, extra...)
	p := startPeer(t, bin, args...)
	p.waitFor(t, "ACCEPT", 10*time.Second)
	return addr, p
}

// TestOpenSSLServer connects our client to s_server: handshakes in every
// mode and suite, then echo and KeyUpdate, and the handshakes OpenSSL
// refuses (alert set: the alert our client must receive).
func TestOpenSSLServer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		server []string
		client func(*ClientConfig)
		suite  uint16
		group  CurveID
		hrr    bool
		alert  Alert
	}{
		{name: "psk_dhe_ke defaults", group: X25519},
		{name: "TLS_AES_128_GCM_SHA256", server: []string{"-ciphersuites", "TLS_AES_128_GCM_SHA256"}, suite: TLS_AES_128_GCM_SHA256, group: X25519},
		{name: "TLS_CHACHA20_POLY1305_SHA256", server: []string{"-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"}, suite: TLS_CHACHA20_POLY1305_SHA256, group: X25519},
		{name: "P-256", server: []string{"-groups", "P-256"}, client: func(c *ClientConfig) { c.Groups = []CurveID{P256} }, group: P256},
		{name: "psk_ke", server: []string{"-allow_no_dhe_kex"}, client: func(c *ClientConfig) { c.Modes = []Mode{ModePSKOnly} }, group: 0},
		// Only a P-256 share, X25519 also supported: an X25519-only server
		// asks again (HelloRetryRequest), the binder is recomputed.
		{name: "HelloRetryRequest", server: []string{"-groups", "X25519"}, client: func(c *ClientConfig) {
			c.Groups = []CurveID{P256, X25519}
			c.KeyShares = []CurveID{P256}
		}, group: X25519, hrr: true},

		{name: "refused: wrong key", client: func(c *ClientConfig) { c.Key = make([]byte, 32) }, alert: AlertIllegalParameter},
		// When OpenSSL cannot use the PSK it falls back to certificates; our
		// PSK-only ClientHello has no signature_algorithms (§9.2 allows
		// that), so OpenSSL answers missing_extension ("missing sigalgs").
		{name: "refused: unknown identity", client: func(c *ClientConfig) { c.Identity = []byte("nobody") }, alert: AlertMissingExtension},
		{name: "refused: psk_ke without -allow_no_dhe_kex", client: func(c *ClientConfig) { c.Modes = []Mode{ModePSKOnly} }, alert: AlertMissingExtension},
		{name: "refused: SHA-384 suite with a SHA-256 PSK", server: []string{"-ciphersuites", "TLS_AES_256_GCM_SHA384"}, client: func(c *ClientConfig) { c.Hash = SHA384 }, alert: AlertMissingExtension},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // s_server takes about a second to report ACCEPT
			addr, p := startOpenSSLServer(t, tc.server...)
			cfg := testClientConfig(t)
			if tc.client != nil {
				tc.client(cfg)
			}
			c := dialConn(t, addr, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := c.HandshakeContext(ctx)
			if !expectHandshake(t, err, tc.alert, p) {
				return
			}
			st := c.ConnectionState()
			if (tc.suite != 0 && st.CipherSuite != tc.suite) || st.Group != tc.group || st.DidHelloRetryRequest != tc.hrr {
				t.Fatalf("state: suite %s group %v hrr %v", CipherSuiteName(st.CipherSuite), st.Group, st.DidHelloRetryRequest)
			}
			// s_server sends NewSessionTicket messages: ignored by Read.
			clientEcho(t, c)
			// KeyUpdate both ways: we update and ask OpenSSL to update.
			if err := c.KeyUpdate(true); err != nil {
				t.Fatal(err)
			}
			clientEcho(t, c)
		})
	}
}

// runOpenSSLClient connects s_client -psk to addr, sends the payload
// line (then, with keyUpdate, "K" to make s_client send a KeyUpdate that
// requests ours, and the payload again), and returns its output.
func runOpenSSLClient(t *testing.T, addr string, keyUpdate bool, extra ...string) (*peer, string) {
	t.Helper()
	bin := lookPeer(t, "openssl", "openssl")
	args := append([]string{"s_client", "-connect", addr, "-psk", testKeyHex, "-psk_identity", testIdentity, "-brief", "-tls1_3"}, extra...)
	p := startPeer(t, bin, args...)
	if !p.waitOrExit("CONNECTION ESTABLISHED", 10*time.Second) {
		p.wait(t, 5*time.Second)
		return p, p.out.String()
	}
	fmt.Fprintf(p.stdin, "%s\n", payload)
	waitCount(t, p, payload, 1)
	if keyUpdate {
		io.WriteString(p.stdin, "K\n")
		p.waitFor(t, "KEYUPDATE", 5*time.Second)
		fmt.Fprintf(p.stdin, "%s\n", payload)
		waitCount(t, p, payload, 2)
	}
	p.stdin.Close()
	p.wait(t, 5*time.Second)
	return p, p.out.String()
}

func waitCount(t *testing.T, p *peer, s string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(p.out.String(), s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%q not seen %d times; output:\n%s", s, n, p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOpenSSLClient(t *testing.T) {
	for _, tc := range []struct {
		name      string
		client    []string
		server    func(*ServerConfig)
		suite     uint16
		group     CurveID
		hrr       bool
		keyUpdate bool
	}{
		{name: "psk_dhe_ke defaults", suite: TLS_AES_128_GCM_SHA256, group: X25519, keyUpdate: true},
		{name: "TLS_CHACHA20_POLY1305_SHA256", client: []string{"-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"}, suite: TLS_CHACHA20_POLY1305_SHA256, group: X25519},
		{name: "TLS_AES_128_GCM_SHA256", client: []string{"-ciphersuites", "TLS_AES_128_GCM_SHA256"}, suite: TLS_AES_128_GCM_SHA256, group: X25519},
		{name: "server prefers DHE with -allow_no_dhe_kex", client: []string{"-allow_no_dhe_kex"}, server: func(s *ServerConfig) { s.AllowPSKOnly = true }, suite: TLS_AES_128_GCM_SHA256, group: X25519},
		// s_client sends a share for its first group only: P-256. Our
		// X25519-only server answers with a HelloRetryRequest.
		{name: "HelloRetryRequest", client: []string{"-groups", "P-256:X25519"}, server: func(s *ServerConfig) { s.Groups = []CurveID{X25519} }, suite: TLS_AES_128_GCM_SHA256, group: X25519, hrr: true, keyUpdate: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testServerConfig(t)
			if tc.server != nil {
				tc.server(cfg)
			}
			addr, results := goServer(t, cfg, 1)
			_, out := runOpenSSLClient(t, addr, tc.keyUpdate, tc.client...)
			r := result(t, results)
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.state.CipherSuite != tc.suite || r.state.Group != tc.group || r.state.DidHelloRetryRequest != tc.hrr || string(r.state.Identity) != testIdentity {
				t.Fatalf("state %+v", r.state)
			}
			if !strings.Contains(out, "Protocol version: TLSv1.3") || !strings.Contains(out, "Ciphersuite: "+CipherSuiteName(tc.suite)) {
				t.Fatalf("s_client output:\n%s", out)
			}
		})
	}
}

// TestOpenSSLClientRefused: s_client handshakes our server refuses, in
// TLS 1.3 and in TLS 1.2 (the same mistakes get other alerts there), with
// the alert both sides must report.
func TestOpenSSLClientRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tls12  bool
		client []string
		alert  Alert
	}{
		{name: "wrong key", client: []string{"-psk", strings.Repeat("ab", 32)}, alert: AlertIllegalParameter},
		{name: "unknown identity", client: []string{"-psk_identity", "nobody"}, alert: AlertHandshakeFailure},
		// The client's Finished does not decrypt: bad_record_mac, as
		// OpenSSL answers a wrong key.
		{name: "TLS 1.2 wrong key", tls12: true, client: []string{"-psk", strings.Repeat("ab", 32)}, alert: AlertBadRecordMAC},
		// unknown_psk_identity, as OpenSSL's PSK callback servers (stunnel,
		// Qt) answer.
		{name: "TLS 1.2 unknown identity", tls12: true, client: []string{"-psk_identity", "nobody"}, alert: AlertUnknownPSKIdentity},
		{name: "TLS 1.2 no PSK suite", tls12: true, client: []string{"-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"}, alert: AlertHandshakeFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testServerConfig(t)
			run := func(addr string) string {
				_, out := runOpenSSLClient(t, addr, false, tc.client...)
				return out
			}
			if tc.tls12 {
				cfg = tls12Server(t)
				run = func(addr string) string { return runOpenSSLClient12(t, addr, false, tc.client...) }
			}
			addr, results := goServer(t, cfg, 1)
			out := run(addr)
			wantAlert(t, result(t, results).err, tc.alert, false)
			if !strings.Contains(out, fmt.Sprintf("alert number %d", tc.alert)) {
				t.Fatalf("s_client did not report alert %d:\n%s", tc.alert, out)
			}
		})
	}
}
