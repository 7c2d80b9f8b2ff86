package psk

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// testCert returns a self-signed certificate for "localhost" and
// 127.0.0.1, a pool trusting it, and the certificate in PEM.
func testCert(t testing.TB) (tls.Certificate, *x509.CertPool, []byte) {
	t.Helper()
	cert, pool := testpeer.SelfSigned(t, "localhost", "127.0.0.1")
	return cert, pool, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
}

// muxServer serves a Listener on 127.0.0.1: each connection echoes lines
// and reports whether it was routed to PSK.
func muxServer(t *testing.T, psk *ServerConfig, cert *tls.Config) (string, <-chan bool) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewListener(inner, psk, cert)
	routes := make(chan bool, 16)
	addr := testpeer.Serve(t, ln, func(_ context.Context, c net.Conn) {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		m := c.(*MuxConn)
		br := bufio.NewReader(m)
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		routes <- m.PSK() != nil
		if _, err := m.Write([]byte(line)); err != nil {
			return
		}
		_, _ = br.ReadString('\n') // until EOF
	})
	return addr, routes
}

func TestListenerBothKinds(t *testing.T) {
	cert, pool, _ := testCert(t)
	addr, routes := muxServer(t, testServerConfig(t), &tls.Config{Certificates: []tls.Certificate{cert}})

	// A PSK device.
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	pc := Client(nc, testClientConfig(t))
	clientEcho(t, pc)
	pc.Close()
	if !<-routes {
		t.Fatal("PSK client routed to certificates")
	}

	// A certificate client, twice: the second resumes with a session
	// ticket (pre_shared_key with an unknown identity) and still goes to
	// crypto/tls.
	ccfg := &tls.Config{RootCAs: pool, ServerName: "localhost", ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	for i := 0; i < 2; i++ {
		tc, err := tls.Dial("tcp", addr, ccfg)
		if err != nil {
			t.Fatal(err)
		}
		clientEcho(t, tc)
		if resumed := tc.ConnectionState().DidResume; resumed != (i == 1) {
			t.Fatalf("connection %d: DidResume %v", i, resumed)
		}
		tc.Close()
		if <-routes {
			t.Fatalf("certificate client %d routed to PSK", i)
		}
	}
}

func TestListenerOpenSSL(t *testing.T) {
	bin := lookPeer(t, "openssl", "openssl")
	cert, _, certPEM := testCert(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	addr, routes := muxServer(t, testServerConfig(t), &tls.Config{Certificates: []tls.Certificate{cert}})
	for _, tc := range []struct {
		name string
		args []string
		psk  bool
	}{
		// s_client -psk also sends signature_algorithms: the known
		// identity decides.
		{"psk", []string{"-psk", testKeyHex, "-psk_identity", testIdentity}, true},
		{"certificate", []string{"-CAfile", caFile, "-verify_return_error", "-servername", "localhost"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"s_client", "-connect", addr, "-brief", "-tls1_3"}, tc.args...)
			p := startPeer(t, bin, args...)
			if !p.waitOrExit("CONNECTION ESTABLISHED", 10*time.Second) {
				t.Fatalf("no connection:\n%s", p.out.String())
			}
			p.stdin.Write([]byte(payload + "\n"))
			waitCount(t, p, payload, 1)
			p.stdin.Close()
			p.wait(t, 5*time.Second)
			if got := <-routes; got != tc.psk {
				t.Fatalf("routed to PSK: %v", got)
			}
			if !tc.psk && !strings.Contains(p.out.String(), "Verification: OK") {
				t.Fatalf("certificate not verified:\n%s", p.out.String())
			}
		})
	}
}

func TestListenerTLS12(t *testing.T) {
	bin := lookPeer(t, "openssl", "openssl")
	cert, pool, _ := testCert(t)
	certCfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	for _, prefer := range []bool{false, true} {
		t.Run(map[bool]string{false: "default", true: "TLS12PreferPSK"}[prefer], func(t *testing.T) {
			cfg := tls12Server(t)
			cfg.TLS12PreferPSK = prefer
			addr, routes := muxServer(t, cfg, certCfg)

			// Our TLS 1.2-only PSK client.
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			pc := Client(nc, tls12Client(t))
			clientEcho(t, pc)
			if v := pc.ConnectionState().Version; v != VersionTLS12 {
				t.Fatalf("version 0x%04x", v)
			}
			pc.Close()
			if !<-routes {
				t.Fatal("TLS 1.2 PSK client routed to certificates")
			}

			// A crypto/tls TLS 1.2 certificate client.
			tc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost", MaxVersion: tls.VersionTLS12})
			if err != nil {
				t.Fatal(err)
			}
			clientEcho(t, tc)
			tc.Close()
			if <-routes {
				t.Fatal("certificate client routed to PSK")
			}

			// s_client -tls1_2 -psk: PSK suites only, then OpenSSL's
			// default list (certificate suites too), which only
			// TLS12PreferPSK routes to PSK; otherwise crypto/tls serves it.
			for _, c := range []struct {
				args []string
				psk  bool
			}{
				{[]string{"-cipher", "PSK-AES128-GCM-SHA256:ECDHE-PSK-CHACHA20-POLY1305"}, true},
				{nil, prefer},
			} {
				args := append([]string{"s_client", "-connect", addr, "-brief", "-tls1_2", "-psk", testKeyHex, "-psk_identity", testIdentity}, c.args...)
				p := startPeer(t, bin, args...)
				ok := p.waitOrExit("CONNECTION ESTABLISHED", 10*time.Second)
				if ok {
					p.stdin.Write([]byte(payload + "\n"))
					waitCount(t, p, payload, 1)
				}
				p.stdin.Close()
				p.wait(t, 5*time.Second)
				// s_client does not verify the certificate by default: both
				// routes connect.
				if !ok {
					t.Fatalf("s_client %v failed:\n%s", c.args, p.out.String())
				}
				if got := <-routes; got != c.psk {
					t.Fatalf("s_client %v routed to PSK: %v", c.args, got)
				}
			}
		})
	}
}
