package psk

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Interop with GnuTLS 3.7 gnutls-cli --pskusername/--pskkey against our
// server. gnutls-serv has no bind address (it listens on every
// interface), so it is not started here.

const (
	gnutlsDHE = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK:+DHE-PSK"
	gnutlsKE  = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+PSK"
)

// gnutlsClientRefused runs gnutls-cli against a Go server with cfg and
// checks that the server sent alert and gnutls-cli reported it.
func gnutlsClientRefused(t *testing.T, cfg *ServerConfig, identity, keyHex, priority string, alert Alert) {
	t.Helper()
	addr, results := goServer(t, cfg, 1)
	out := runGnuTLSClient(t, addr, identity, keyHex, priority)
	wantAlert(t, result(t, results).err, alert, false)
	if !strings.Contains(out, fmt.Sprintf("Received alert [%d]", alert)) {
		t.Fatalf("gnutls-cli did not report alert %d:\n%s", alert, out)
	}
}

func runGnuTLSClient(t *testing.T, addr, identity, keyHex, priority string) string {
	t.Helper()
	bin := lookPeer(t, "gnutls-cli", "gnutls-bin")
	host, port, _ := strings.Cut(addr, ":")
	p := startPeer(t, bin, "-V", "--port", port, host, "--pskusername", identity, "--pskkey", keyHex, "--priority", priority)
	if p.waitOrExit("- Handshake was completed", 10*time.Second) {
		fmt.Fprintf(p.stdin, "%s\n", payload)
		waitCount(t, p, payload, 1)
	}
	p.stdin.Close()
	p.wait(t, 5*time.Second)
	return p.out.String()
}

func TestGnuTLSClient(t *testing.T) {
	for _, tc := range []struct {
		name     string
		priority string
		server   func(*ServerConfig)
		suite    uint16
		dhe      bool
		hrr      bool
	}{
		{name: "psk_dhe_ke", priority: gnutlsDHE, suite: TLS_AES_128_GCM_SHA256, dhe: true},
		{name: "psk_ke", priority: gnutlsKE, server: func(s *ServerConfig) { s.AllowPSKOnly = true }, suite: TLS_AES_128_GCM_SHA256},
		{name: "TLS_CHACHA20_POLY1305_SHA256", priority: gnutlsDHE + ":-CIPHER-ALL:+CHACHA20-POLY1305", suite: TLS_CHACHA20_POLY1305_SHA256, dhe: true},
		{name: "TLS_AES_128_GCM_SHA256", priority: gnutlsDHE + ":-CIPHER-ALL:+AES-128-GCM", suite: TLS_AES_128_GCM_SHA256, dhe: true},
		// GnuTLS sends shares for P-256 and X25519 only; a P-384-only server
		// asks again.
		{name: "HelloRetryRequest", priority: gnutlsDHE + ":-GROUP-ALL:+GROUP-SECP256R1:+GROUP-SECP384R1:+GROUP-X25519", server: func(s *ServerConfig) { s.Groups = []CurveID{P384} }, suite: TLS_AES_128_GCM_SHA256, dhe: true, hrr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testServerConfig(t)
			if tc.server != nil {
				tc.server(cfg)
			}
			addr, results := goServer(t, cfg, 1)
			out := runGnuTLSClient(t, addr, testIdentity, testKeyHex, tc.priority)
			r := result(t, results)
			if r.err != nil {
				t.Fatalf("%v\n%s", r.err, out)
			}
			if r.state.CipherSuite != tc.suite || (r.state.Group != 0) != tc.dhe || r.state.DidHelloRetryRequest != tc.hrr {
				t.Fatalf("state %+v\n%s", r.state, out)
			}
			if !strings.Contains(out, "- Version: TLS1.3") || !strings.Contains(out, "Connected as '"+testIdentity+"'") {
				t.Fatalf("gnutls-cli output:\n%s", out)
			}
		})
	}
}

func TestGnuTLSClientRefused(t *testing.T) {
	for _, tc := range []struct {
		name, identity, key, priority string
		alert                         Alert
	}{
		{"wrong key", testIdentity, strings.Repeat("ab", 32), gnutlsDHE, AlertIllegalParameter},
		{"unknown identity", "nobody", testKeyHex, gnutlsDHE, AlertHandshakeFailure},
		{"psk_ke not allowed", testIdentity, testKeyHex, gnutlsKE, AlertHandshakeFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gnutlsClientRefused(t, testServerConfig(t), tc.identity, tc.key, tc.priority, tc.alert)
		})
	}
}

// startGnuTLSServer runs gnutls-serv --echo with a PSK password file
// (and the identity hint, unless empty) in a private network namespace
// and returns its PID and address there.
func startGnuTLSServer(t *testing.T, priority, hint string) (int, string) {
	t.Helper()
	bin := lookPeer(t, "gnutls-serv", "gnutls-bin")
	port := "5556"
	flags := []string{"--port", port, "--echo", "--pskpasswd", writeSecrets(t, t.TempDir(), testKeyHex), "--priority", priority}
	if hint != "" {
		flags = append(flags, "--pskhint", hint)
	}
	prog, args := netnsCommand(t, bin, flags...)
	p := startPeer(t, prog, args...)
	// gnutls-serv prints "listening on IPv4 0.0.0.0 port N..." before it
	// binds and "done" after: wait for the whole line.
	p.waitFor(t, "IPv4 0.0.0.0 port "+port+"...done", 10*time.Second)
	return p.cmd.Process.Pid, "127.0.0.1:" + port
}

func TestGnuTLSServer(t *testing.T) {
	for _, tc := range []struct {
		name     string
		priority string
		client   func(*ClientConfig)
		dhe      bool
		alert    Alert
	}{
		{name: "psk_dhe_ke", priority: gnutlsDHE, dhe: true},
		{name: "psk_ke", priority: gnutlsKE, client: func(c *ClientConfig) { c.Modes = []Mode{ModePSKOnly} }},
		{name: "AES-128-GCM", priority: gnutlsDHE + ":-CIPHER-ALL:+AES-128-GCM", client: func(c *ClientConfig) { c.CipherSuites = []uint16{TLS_AES_128_GCM_SHA256} }, dhe: true},
		{name: "CHACHA20-POLY1305", priority: gnutlsDHE + ":-CIPHER-ALL:+CHACHA20-POLY1305", client: func(c *ClientConfig) { c.CipherSuites = []uint16{TLS_CHACHA20_POLY1305_SHA256} }, dhe: true},
		{name: "HelloRetryRequest", priority: gnutlsDHE + ":-GROUP-ALL:+GROUP-SECP384R1", dhe: true, client: func(c *ClientConfig) {
			c.Groups = []CurveID{X25519, P384}
			c.KeyShares = []CurveID{X25519}
		}},
		{name: "wrong key", priority: gnutlsDHE, client: func(c *ClientConfig) { c.Key = make([]byte, 32) }, alert: AlertIllegalParameter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pid, addr := startGnuTLSServer(t, tc.priority, "")
			nc, err := dialInNetns(pid, addr)
			if err != nil {
				t.Fatal(err)
			}
			cfg := testClientConfig(t)
			if tc.client != nil {
				tc.client(cfg)
			}
			c := Client(nc, cfg)
			defer c.Close()
			err = c.Handshake()
			if !expectHandshake(t, err, tc.alert, nil) {
				return
			}
			st := c.ConnectionState()
			if (st.Group != 0) != tc.dhe || (tc.name == "HelloRetryRequest") != st.DidHelloRetryRequest {
				t.Fatalf("state %+v", st)
			}
			clientEcho(t, c)
			if err := c.KeyUpdate(true); err != nil {
				t.Fatal(err)
			}
			clientEcho(t, c)
		})
	}
}
