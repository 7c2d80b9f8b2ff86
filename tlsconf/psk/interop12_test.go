package psk

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TLS 1.2 PSK interop (RFC 4279/5487/5489/7905) with OpenSSL 3, GnuTLS
// 3.7 and stunnel 5 on 127.0.0.1, in both roles.

const testHint = "proxy-hint"

// suites12 maps our suites to OpenSSL's names and GnuTLS priorities.
var suites12 = []struct {
	id       uint16
	openssl  string
	gnutlsKX string
	gnutlsCi string
}{
	{TLS_PSK_WITH_AES_128_GCM_SHA256, "PSK-AES128-GCM-SHA256", "+PSK", "+AES-128-GCM"},
	{TLS_PSK_WITH_AES_256_GCM_SHA384, "PSK-AES256-GCM-SHA384", "+PSK", "+AES-256-GCM"},
	{TLS_PSK_WITH_CHACHA20_POLY1305_SHA256, "PSK-CHACHA20-POLY1305", "+PSK", "+CHACHA20-POLY1305"},
	{TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-PSK-CHACHA20-POLY1305", "+ECDHE-PSK", "+CHACHA20-POLY1305"},
}

func gnutls12Priority(kx, cipher string) string {
	return "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:" + kx + ":-CIPHER-ALL:" + cipher
}

// hintRecorder is a ClientConfig.GetKey that records the hints it gets.
type hintRecorder struct {
	mu    sync.Mutex
	hints []string
}

func (h *hintRecorder) config(t testing.TB, minV, maxV uint16) *ClientConfig {
	key := testKey(t)
	return &ClientConfig{
		MinVersion: minV, MaxVersion: maxV,
		GetKey: func(_ context.Context, hint []byte) ([]byte, []byte, error) {
			h.mu.Lock()
			h.hints = append(h.hints, string(hint))
			h.mu.Unlock()
			return []byte(testIdentity), key, nil
		},
	}
}

func (h *hintRecorder) last() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.hints) == 0 {
		return "<none>"
	}
	return h.hints[len(h.hints)-1]
}

func dialPSK(t *testing.T, nc net.Conn, cfg *ClientConfig) (*Conn, error) {
	t.Helper()
	c := Client(nc, cfg)
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c, c.HandshakeContext(ctx)
}

// dial12 handshakes over nc with cfg; when alert is set, the handshake
// must fail with that alert received, else end in TLS 1.2 with suite and
// hint and echo a line.
func dial12(t *testing.T, nc net.Conn, cfg *ClientConfig, alert Alert, suite uint16, hint string) {
	t.Helper()
	c, err := dialPSK(t, nc, cfg)
	if !expectHandshake(t, err, alert, nil) {
		return
	}
	check12State(t, c.ConnectionState(), suite, hint)
	clientEcho(t, c)
}

func check12State(t *testing.T, st ConnectionState, suite uint16, hint string) {
	t.Helper()
	if st.Version != VersionTLS12 || st.CipherSuite != suite || !st.ExtendedMasterSecret ||
		string(st.Identity) != testIdentity || string(st.IdentityHint) != hint {
		t.Fatalf("state: version 0x%04x suite %s EMS %v identity %q hint %q",
			st.Version, CipherSuiteName(st.CipherSuite), st.ExtendedMasterSecret, st.Identity, st.IdentityHint)
	}
	if (st.Group != 0) != (suite == TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256) {
		t.Fatalf("group %v with %s", st.Group, CipherSuiteName(suite))
	}
}

// startOpenSSLServer12 runs s_server -tls1_2 -nocert -psk with a hint.
func startOpenSSLServer12(t *testing.T, extra ...string) (string, *peer) {
	t.Helper()
	bin := lookPeer(t, "openssl", "openssl")
	addr := "127.0.0.1:" + freePort(t)
	args := append([]string{"s_server", "-accept", addr, "-nocert", "-psk", testKeyHex,
		"-psk_identity", testIdentity, "-psk_hint", testHint, "-naccept", "1", "-rev", "-tls1_2"}, extra...)
	p := startPeer(t, bin, args...)
	p.waitFor(t, "ACCEPT", 10*time.Second)
	return addr, p
}

func TestOpenSSLServer12(t *testing.T) {
	type tc struct {
		name     string
		server   []string
		minV     uint16
		maxV     uint16
		suite    uint16
		wrongKey bool
		alert    Alert
	}
	var cases []tc
	for _, s := range suites12 {
		cases = append(cases, tc{name: s.openssl, server: []string{"-cipher", s.openssl}, minV: VersionTLS12, maxV: VersionTLS12, suite: s.id})
	}
	cases = append(cases,
		// Our TLS 1.3+1.2 ClientHello; s_server limited to TLS 1.2 sets no
		// downgrade sentinel and picks its preferred PSK suite we offer.
		tc{name: "TLS 1.3 and 1.2 offered", server: []string{"-cipher", "PSK-AES128-GCM-SHA256"}, minV: VersionTLS12, maxV: VersionTLS13, suite: TLS_PSK_WITH_AES_128_GCM_SHA256},
		tc{name: "wrong key", server: []string{"-cipher", "PSK-AES128-GCM-SHA256"}, minV: VersionTLS12, maxV: VersionTLS12, wrongKey: true, alert: AlertBadRecordMAC},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, p := startOpenSSLServer12(t, tc.server...)
			var h hintRecorder
			cfg := h.config(t, tc.minV, tc.maxV)
			if tc.wrongKey {
				cfg.GetKey = nil
				cfg.Identity, cfg.Key = []byte(testIdentity), make([]byte, 32)
			}
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c, err := dialPSK(t, nc, cfg)
			if !expectHandshake(t, err, tc.alert, p) {
				return
			}
			check12State(t, c.ConnectionState(), tc.suite, testHint)
			if h.last() != testHint {
				t.Fatalf("GetKey got hint %q", h.last())
			}
			clientEcho(t, c)
			clientEcho(t, c)
		})
	}
}

// runOpenSSLClient12 connects s_client -tls1_2 -psk to addr, sends the
// payload, and returns its output; with renegotiate it then asks for a
// renegotiation ("R").
func runOpenSSLClient12(t *testing.T, addr string, renegotiate bool, extra ...string) string {
	t.Helper()
	bin := lookPeer(t, "openssl", "openssl")
	args := append([]string{"s_client", "-connect", addr, "-psk", testKeyHex, "-psk_identity", testIdentity, "-tls1_2", "-brief"}, extra...)
	p := startPeer(t, bin, args...)
	if p.waitOrExit("CONNECTION ESTABLISHED", 10*time.Second) {
		fmt.Fprintf(p.stdin, "%s\n", payload)
		waitCount(t, p, payload, 1)
		if renegotiate {
			fmt.Fprintf(p.stdin, "R\n")
			p.waitOrExit("alert", 5*time.Second)
		}
	}
	p.stdin.Close()
	p.wait(t, 5*time.Second)
	return p.out.String()
}

func TestOpenSSLClient12(t *testing.T) {
	type tc struct {
		name   string
		client []string
		server func(*ServerConfig)
		suite  uint16
		want   []string // in the s_client output
	}
	var cases []tc
	for _, s := range suites12 {
		cases = append(cases, tc{name: s.openssl, client: []string{"-cipher", s.openssl}, suite: s.id})
	}
	cases = append(cases,
		// Default cipher list (certificate, DHE-PSK and PSK suites): we
		// prefer ECDHE-PSK.
		tc{name: "default ciphers", suite: TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256},
		tc{name: "server preference", client: []string{"-cipher", "PSK-CHACHA20-POLY1305:PSK-AES256-GCM-SHA384"},
			server: func(s *ServerConfig) {
				s.TLS12CipherSuites = []uint16{TLS_PSK_WITH_AES_256_GCM_SHA384, TLS_PSK_WITH_CHACHA20_POLY1305_SHA256}
			}, suite: TLS_PSK_WITH_AES_256_GCM_SHA384},
		tc{name: "hint", client: []string{"-cipher", "PSK-AES128-GCM-SHA256", "-debug"}, suite: TLS_PSK_WITH_AES_128_GCM_SHA256,
			want: []string{"Received PSK identity hint '" + testHint + "'"}},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := tls12Server(t)
			cfg.IdentityHint = []byte(testHint)
			if tc.server != nil {
				tc.server(cfg)
			}
			addr, results := goServer(t, cfg, 1)
			out := runOpenSSLClient12(t, addr, false, tc.client...)
			r := result(t, results)
			if r.err != nil {
				t.Fatalf("%v\n%s", r.err, out)
			}
			check12State(t, r.state, tc.suite, testHint)
			name := ""
			for _, s := range suites12 {
				if s.id == tc.suite {
					name = s.openssl
				}
			}
			for _, w := range append(tc.want, "Protocol version: TLSv1.2", "Ciphersuite: "+name) {
				if !strings.Contains(out, w) {
					t.Fatalf("s_client output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestOpenSSLClient12Renegotiation: s_client asks to renegotiate; we
// answer no_renegotiation (a warning) and OpenSSL gives up the
// renegotiation.
func TestOpenSSLClient12Renegotiation(t *testing.T) {
	addr, results := goServer(t, tls12Server(t), 1)
	out := runOpenSSLClient12(t, addr, true, "-cipher", "PSK-AES128-GCM-SHA256")
	if r := result(t, results); r.err != nil {
		t.Fatal(r.err)
	}
	if !strings.Contains(out, "no renegotiation") {
		t.Fatalf("s_client output:\n%s", out)
	}
}

func TestGnuTLSClient12(t *testing.T) {
	for _, s := range suites12 {
		t.Run(s.openssl, func(t *testing.T) {
			t.Parallel()
			cfg := tls12Server(t)
			cfg.IdentityHint = []byte(testHint)
			addr, results := goServer(t, cfg, 1)
			out := runGnuTLSClient(t, addr, testIdentity, testKeyHex, gnutls12Priority(s.gnutlsKX, s.gnutlsCi))
			r := result(t, results)
			if r.err != nil {
				t.Fatalf("%v\n%s", r.err, out)
			}
			check12State(t, r.state, s.id, testHint)
			if s.gnutlsKX == "+ECDHE-PSK" {
				// gnutls-cli 3.7.9 crashes printing an (EC)DHE-PSK session
				// after the handshake (research notes §3.2): judged from our
				// side only.
				return
			}
			for _, w := range []string{"- Version: TLS1.2", "PSK hint '" + testHint + "'", payload} {
				if !strings.Contains(out, w) {
					t.Fatalf("gnutls-cli output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestGnuTLSClient12Refused(t *testing.T) {
	prio := gnutls12Priority("+PSK", "+AES-128-GCM")
	for _, tc := range []struct {
		name, identity, key string
		alert               Alert
	}{
		{"wrong key", testIdentity, strings.Repeat("ab", 32), AlertBadRecordMAC},
		{"unknown identity", "nobody", testKeyHex, AlertUnknownPSKIdentity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gnutlsClientRefused(t, tls12Server(t), tc.identity, tc.key, prio, tc.alert)
		})
	}
}

func TestGnuTLSServer12(t *testing.T) {
	type tc struct {
		name     string
		priority string
		suite    uint16
		identity string
		key      []byte
		alert    Alert
	}
	var cases []tc
	for _, s := range suites12 {
		cases = append(cases, tc{name: s.openssl, priority: gnutls12Priority(s.gnutlsKX, s.gnutlsCi), suite: s.id})
	}
	prio := gnutls12Priority("+PSK", "+AES-128-GCM")
	cases = append(cases,
		// GnuTLS answers a wrong key and an unknown identity alike (it
		// derives a random key for unknown users): bad_record_mac.
		tc{name: "wrong key", priority: prio, key: make([]byte, 32), alert: AlertBadRecordMAC},
		tc{name: "unknown identity", priority: prio, identity: "nobody", alert: AlertBadRecordMAC},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pid, addr := startGnuTLSServer(t, tc.priority, testHint)
			nc, err := dialInNetns(pid, addr)
			if err != nil {
				t.Fatal(err)
			}
			var h hintRecorder
			cfg := h.config(t, VersionTLS12, VersionTLS12)
			if tc.identity != "" || tc.key != nil {
				cfg.GetKey = nil
				cfg.Identity, cfg.Key = []byte(testIdentity), testKey(t)
				if tc.identity != "" {
					cfg.Identity = []byte(tc.identity)
				}
				if tc.key != nil {
					cfg.Key = tc.key
				}
			}
			dial12(t, nc, cfg, tc.alert, tc.suite, testHint)
		})
	}
}

func TestStunnelServer12(t *testing.T) {
	for _, tc := range []struct {
		name, ciphers string
		suite         uint16
		identity      string
		alert         Alert
	}{
		{name: "PSK-AES128-GCM-SHA256", ciphers: "PSK-AES128-GCM-SHA256", suite: TLS_PSK_WITH_AES_128_GCM_SHA256},
		{name: "ECDHE-PSK-CHACHA20-POLY1305", ciphers: "ECDHE-PSK-CHACHA20-POLY1305", suite: TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256},
		// OpenSSL's PSK callback finds no key: unknown_psk_identity.
		{name: "unknown identity", ciphers: "PSK-AES128-GCM-SHA256", identity: "nobody", alert: AlertUnknownPSKIdentity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, _ := startStunnelServer(t, "sslVersion = TLSv1.2\nciphers = "+tc.ciphers+"\n")
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			cfg := tls12Client(t)
			if tc.identity != "" {
				cfg.Identity = []byte(tc.identity)
			}
			dial12(t, nc, cfg, tc.alert, tc.suite, "")
		})
	}
}

func TestStunnelClient12(t *testing.T) {
	bin := lookPeer(t, "stunnel4", "stunnel4")
	cfg := tls12Server(t)
	cfg.IdentityHint = []byte(testHint)
	addr, results := goServer(t, cfg, 1)
	dir := t.TempDir()
	conf := filepath.Join(dir, "client.conf")
	cfgText := fmt.Sprintf("client = yes\nsyslog = no\ndebug = info\noutput = %s\nconnect = %s\nPSKsecrets = %s\nPSKidentity = %s\nsslVersion = TLSv1.2\nciphers = PSK\n",
		filepath.Join(dir, "client.log"), addr, writeSecrets(t, dir, testKeyHex), testIdentity)
	if err := os.WriteFile(conf, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startPeer(t, bin, conf)
	fmt.Fprintf(p.stdin, "%s\n", payload)
	r := result(t, results)
	if r.err != nil {
		t.Fatal(r.err)
	}
	waitCount(t, p, payload, 1)
	p.stdin.Close()
	p.wait(t, 5*time.Second)
	check12State(t, r.state, TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256, testHint)
}
