package psk

import (
	"fmt"
	"net"
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
			bin := lookPeer(t, "stunnel4", "stunnel4")
			dir := t.TempDir()
			addr := "127.0.0.1:" + freePort(t)
			conf := filepath.Join(dir, "server.conf")
			cfgText := fmt.Sprintf("foreground = yes\npid =\nsyslog = no\ndebug = info\n[psk]\naccept = %s\nexec = /bin/cat\nPSKsecrets = %s\n",
				addr, writeSecrets(t, dir, testKeyHex))
			if err := os.WriteFile(conf, []byte(cfgText), 0o600); err != nil {
				t.Fatal(err)
			}
			p := startPeer(t, bin, conf)
			p.waitFor(t, "Configuration successful", 10*time.Second)
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			cfg := testClientConfig(t)
			if tc.key != nil {
				cfg.Key = tc.key
			}
			c := Client(nc, cfg)
			defer c.Close()
			err = c.Handshake()
			if tc.alert != 0 {
				if a, remote, ok := alertOf(err); !ok || !remote || a != tc.alert {
					t.Fatalf("error %v, want received %v", err, tc.alert)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
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
				if a, remote, ok := alertOf(r.err); !ok || remote || a != tc.alert {
					t.Fatalf("server error %v, want sent %v", r.err, tc.alert)
				}
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
