package psk

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Interop with stunnel 5 (OpenSSL's legacy PSK callbacks, as Qt uses
// them) configured with PSKsecrets, in both roles.

func writeSecrets(t *testing.T, dir, keyHex string) string {
	t.Helper()
	path := filepath.Join(dir, "psk.txt")
	if err := os.WriteFile(path, []byte(testIdentity+":"+keyHex+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startStunnelServer runs stunnel as a PSK echo server (exec /bin/cat)
// on a free loopback port with the test identity's key and the extra
// service lines, and returns its address once it is configured.
func startStunnelServer(t *testing.T, extra string) (string, *peer) {
	t.Helper()
	bin := lookPeer(t, "stunnel4", "stunnel4")
	dir := t.TempDir()
	addr := "127.0.0.1:" + freePort(t)
	conf := filepath.Join(dir, "server.conf")
	cfgText := fmt.Sprintf("foreground = yes\npid =\nsyslog = no\ndebug = info\n[psk]\naccept = %s\nexec = /bin/cat\nPSKsecrets = %s\n%s",
		addr, writeSecrets(t, dir, testKeyHex), extra)
	if err := os.WriteFile(conf, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startPeer(t, bin, conf)
	p.waitFor(t, "Configuration successful", 10*time.Second)
	return addr, p
}

func TestStunnelServer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		key   []byte
		alert Alert
	}{
		{name: "psk"},
		{name: "wrong key", key: make([]byte, 32), alert: AlertIllegalParameter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, p := startStunnelServer(t, "")
			cfg := testClientConfig(t)
			if tc.key != nil {
				cfg.Key = tc.key
			}
			c := dialConn(t, addr, cfg)
			err := c.Handshake()
			if !expectHandshake(t, err, tc.alert, nil) {
				return
			}
			clientEcho(t, c)
			p.waitFor(t, `Key configured for PSK identity "`+testIdentity+`"`, 5*time.Second)
		})
	}
}

func TestStunnelClient(t *testing.T) {
	for _, tc := range []struct {
		name  string
		key   string
		alert Alert
	}{
		{name: "psk", key: testKeyHex},
		{name: "wrong key", key: strings.Repeat("ab", 32), alert: AlertIllegalParameter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := lookPeer(t, "stunnel4", "stunnel4")
			addr, results := goServer(t, testServerConfig(t), 1)
			dir := t.TempDir()
			conf := filepath.Join(dir, "client.conf")
			// No "accept": inetd mode, plaintext on stdin/stdout.
			cfgText := fmt.Sprintf("client = yes\nsyslog = no\ndebug = info\noutput = %s\nconnect = %s\nPSKsecrets = %s\nPSKidentity = %s\n",
				filepath.Join(dir, "client.log"), addr, writeSecrets(t, dir, tc.key), testIdentity)
			if err := os.WriteFile(conf, []byte(cfgText), 0o600); err != nil {
				t.Fatal(err)
			}
			p := startPeer(t, bin, conf)
			fmt.Fprintf(p.stdin, "%s\n", payload)
			r := result(t, results)
			if tc.alert != 0 {
				wantAlert(t, r.err, tc.alert, false)
				p.stdin.Close()
				p.wait(t, 5*time.Second)
				return
			}
			if r.err != nil {
				t.Fatal(r.err)
			}
			waitCount(t, p, payload, 1)
			p.stdin.Close()
			p.wait(t, 5*time.Second)
			if r.state.CipherSuite != TLS_AES_128_GCM_SHA256 || r.state.Group == 0 || string(r.state.Identity) != testIdentity {
				t.Fatalf("state %+v", r.state)
			}
		})
	}
}
