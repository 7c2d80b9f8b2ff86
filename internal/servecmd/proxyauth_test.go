package servecmd

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/clientcmd"
	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// startServe runs "wssproxy serve" in-process towards the wss echo through
// the upstream proxy and returns its listen address.
func startServeVia(t *testing.T, echoAddr, ca, proxy string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	lines := testpeer.NewLines(20)
	done := make(chan int, 1)
	errb := &testpeer.Buffer{}
	go func() {
		// The README's "behind a corporate proxy" command line.
		done <- Run(ctx, []string{"--listen", "127.0.0.1:0", "--upstream", "wss://" + echoAddr + "/",
			"--upstream-ca", ca, "--upstream-sni", "localhost", "--upstream-proxy", proxy, "--log-level", "error"}, lines, errb)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return testpeer.AwaitServing(t, lines.C, done, errb)
}

// clientEcho runs "wssproxy client" against serve and expects the echo.
func clientEcho(t *testing.T, addr string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := clientcmd.Run(ctx, []string{"ws://" + addr + "/", "--proxy", "direct"}, strings.NewReader("through the corporate proxy\n"), &out, &errb)
	if code != 0 || out.String() != "through the corporate proxy\n" {
		t.Fatalf("client exit %d, %q, %q", code, out.String(), errb.String())
	}
}

// upgrade502 sends a WebSocket upgrade to serve and returns the status
// and the body (the reason).
func upgradeAnswer(t *testing.T, addr string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// Every scheme through a real squid, for serve --upstream-proxy and
// certs pin --proxy, with the command lines of README's "behind a
// corporate proxy"; wrong credentials give the client a 502 that names
// the proxy's answer, and certs pin says the credentials were refused.
func TestUpstreamProxyAuthSchemes(t *testing.T) {
	echoAddr, ca := startWSSEcho(t)
	kdc := testpeer.StartKDC(t)
	kdc.AddUser(t, "alice", "alicepw")
	keytab := kdc.AddService(t, "HTTP/localhost")
	withKerberos := func(o testpeer.SquidOptions) testpeer.SquidOptions {
		o.KDC, o.NegotiateKeytab, o.NegotiateSPN = kdc, keytab, "HTTP/localhost@"+kdc.Realm
		return o
	}
	port := func(sq *testpeer.Squid) string { _, p, _ := net.SplitHostPort(sq.Addr); return p }
	pin := func(t *testing.T, proxy string) (int, string) {
		code, out, errOut := runCerts(t, "pin", "--proxy", proxy, echoAddr)
		return code, out + errOut
	}

	cases := []struct {
		name     string
		squid    testpeer.SquidOptions
		proxy    func(sq *testpeer.Squid) string
		env      func(t *testing.T)
		wrong    func(sq *testpeer.Squid) string // refused credentials
		wrongEnv func(t *testing.T)
		reason   string
	}{
		{name: "Basic", squid: testpeer.SquidOptions{Basic: map[string]string{"alice": "s3cret"}},
			proxy:  func(sq *testpeer.Squid) string { return "http://alice:s3cret@127.0.0.1:" + port(sq) },
			wrong:  func(sq *testpeer.Squid) string { return "http://alice:wrong-pw@127.0.0.1:" + port(sq) },
			reason: "upstream proxy refused: 407 Proxy Authentication Required (schemes offered: Basic)"},
		{name: "Digest", squid: testpeer.SquidOptions{Digest: map[string]string{"alice": "s3cret"}},
			proxy:  func(sq *testpeer.Squid) string { return "http://alice:s3cret@127.0.0.1:" + port(sq) },
			wrong:  func(sq *testpeer.Squid) string { return "http://alice:wrong-pw@127.0.0.1:" + port(sq) },
			reason: "upstream proxy refused: 407 Proxy Authentication Required (schemes offered: Digest)"},
		{name: "NTLM", squid: testpeer.SquidOptions{NTLM: true, Users: []string{`CORP\alice`}},
			proxy:  func(sq *testpeer.Squid) string { return "http://CORP%5Calice:s3cret@127.0.0.1:" + port(sq) },
			wrong:  func(sq *testpeer.Squid) string { return "http://CORP%5Cmallory:wrong-pw@127.0.0.1:" + port(sq) },
			reason: "upstream proxy refused: 407 Proxy Authentication Required (schemes offered: NTLM)"},
		{name: "Kerberos", squid: withKerberos(testpeer.SquidOptions{NTLM: true, Users: []string{"alice@" + kdc.Realm}}),
			proxy: func(sq *testpeer.Squid) string { return "http://localhost:" + port(sq) },
			env: func(t *testing.T) {
				t.Setenv("KRB5_CONFIG", kdc.Conf)
				t.Setenv("KRB5CCNAME", kdc.Kinit(t, "alice", "alicepw"))
			},
			// Without a Kerberos ticket the NTLM user is not let in.
			wrong:  func(sq *testpeer.Squid) string { return "http://CORP%5Calice:wrong-pw@localhost:" + port(sq) },
			reason: "upstream proxy refused: 407 Proxy Authentication Required (schemes offered: NTLM, Negotiate)"},
		{name: "Kerberos keytab", squid: withKerberos(testpeer.SquidOptions{Users: []string{"alice@" + kdc.Realm}}),
			proxy: func(sq *testpeer.Squid) string { return "http://localhost:" + port(sq) },
			env: func(t *testing.T) {
				t.Setenv("KRB5_CONFIG", kdc.Conf)
				t.Setenv("KRB5_CLIENT_KTNAME", kdc.Keytab(t, "alice"))
			},
			// bob has a ticket, but the proxy lets only alice in.
			wrong: func(sq *testpeer.Squid) string { return "http://localhost:" + port(sq) },
			wrongEnv: func(t *testing.T) {
				kdc.AddUser(t, "bob", "bobpw")
				t.Setenv("KRB5_CONFIG", kdc.Conf)
				t.Setenv("KRB5_CLIENT_KTNAME", kdc.Keytab(t, "bob"))
			},
			reason: "upstream proxy refused: 407 Proxy Authentication Required (schemes offered: Negotiate)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sq := testpeer.StartSquid(t, tc.squid)
			t.Run("wrong credentials", func(t *testing.T) {
				if tc.wrongEnv != nil {
					tc.wrongEnv(t)
				}
				addr := startServeVia(t, echoAddr, ca, tc.wrong(sq))
				if code, body := upgradeAnswer(t, addr); code != 502 || body != tc.reason {
					t.Fatalf("got %d %q, want 502 %q", code, body, tc.reason)
				}
				if code, out := pin(t, tc.wrong(sq)); code != 1 || !strings.Contains(out, "the proxy refused the credentials") || strings.Contains(out, "wrong-pw") {
					t.Fatalf("certs pin: exit %d: %s", code, out)
				}
			})
			if tc.env != nil {
				tc.env(t)
			}
			addr := startServeVia(t, echoAddr, ca, tc.proxy(sq))
			clientEcho(t, addr)
			if code, out := pin(t, tc.proxy(sq)); code != 0 || !strings.Contains(out, "via http://") || strings.Contains(out, "s3cret") {
				t.Fatalf("certs pin: exit %d: %s", code, out)
			}
			user := "alice"
			switch tc.name {
			case "NTLM":
				user = `CORP\alice`
			case "Kerberos", "Kerberos keytab":
				user = "alice@" + kdc.Realm
			}
			if log := sq.AccessLog(); !strings.Contains(log, user+" CONNECT "+echoAddr+" 200") {
				t.Fatalf("squid's log lacks %s's tunnel:\n%s", user, log)
			}
		})
	}

	t.Run("unreachable", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		dead := "http://" + ln.Addr().String()
		ln.Close()
		addr := startServeVia(t, echoAddr, ca, dead)
		if code, body := upgradeAnswer(t, addr); code != 502 || body != "upstream proxy unreachable" {
			t.Fatalf("got %d %q", code, body)
		}
	})
	t.Run("forbidden", func(t *testing.T) {
		// tinyproxy answers 403 to a CONNECT to a port it does not allow.
		proxy := testpeer.StartTinyproxy(t, testpeer.TinyproxyOptions{ConnectPorts: []int{443}})
		addr := startServeVia(t, echoAddr, ca, "http://"+proxy)
		if code, body := upgradeAnswer(t, addr); code != 502 || body != "upstream proxy: 403 Forbidden" {
			t.Fatalf("got %d %q", code, body)
		}
	})
}
