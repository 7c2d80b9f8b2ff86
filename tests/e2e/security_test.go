package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/tlsconf/psk"
	"github.com/wssproxy/wssproxy/ws"
)

// Security checks through the real binary: never an open proxy, the
// origin policy, the admin API's authentication, no secret in the logs,
// and the TLS versions and suites a real client (openssl s_client) gets.

// Requests no route matches, absolute-form URIs naming other hosts and
// CONNECT never reach any upstream: neither the configured one nor the
// host the request names. With a catch-all route they reach only the
// configured upstream, under its own host name.
func TestNoOpenProxy(t *testing.T) {
	t.Parallel()
	app := startFaultUpstream(t, false, nil)
	other := startFaultUpstream(t, false, nil) // the host attackers name
	otherAddr := strings.TrimPrefix(other.url, "ws://")
	px := serveRoutes(t, true, []string{"host: app.example", "path: /chat", "upstream: " + app.url + "/"})
	head := func(requestLine, host string) string {
		return strings.Replace(strings.Replace(upgradeHead(), "GET /echo HTTP/1.1", requestLine, 1), "Host: 127.0.0.1", "Host: "+host, 1)
	}
	for _, tc := range []struct{ name, head string }{
		{"other host", head("GET /chat HTTP/1.1", otherAddr)},
		{"other path", head("GET /admin HTTP/1.1", "app.example")},
		{"path prefix without separator", head("GET /chatroom HTTP/1.1", "app.example")},
		{"absolute-form to another host", head("GET ws://"+otherAddr+"/chat HTTP/1.1", "app.example")},
		{"absolute-form http to another host", head("GET http://"+otherAddr+"/chat HTTP/1.1", "app.example")},
		{"CONNECT", "CONNECT " + otherAddr + " HTTP/1.1\r\nHost: " + otherAddr + "\r\n"},
	} {
		got, body := request(t, px, tc.head)
		if got == http.StatusSwitchingProtocols || got < 400 {
			t.Errorf("%s: answered %d, want a refusal", tc.name, got)
		} else {
			t.Logf("%s: %d %q", tc.name, got, strings.TrimSpace(body))
		}
	}
	// The route itself works, and only it reached an upstream.
	if got, body := request(t, px, head("GET /chat/room HTTP/1.1", "app.example")); got != http.StatusSwitchingProtocols {
		t.Errorf("the route's own request: %d %q", got, body)
	}
	time.Sleep(200 * time.Millisecond) // an upstream dial in flight would land by now
	if n := other.accepted.Load(); n != 0 {
		t.Errorf("the host named by the requests got %d connections: an open proxy", n)
	}
	if n := app.accepted.Load(); n != 1 {
		t.Errorf("the configured upstream got %d connections, want 1 (the route's own request)", n)
	}

	// A catch-all route serves any Host, but only towards its configured
	// upstream, which sees its own host and the path alone. An
	// absolute-form URI is refused outright (400), catch-all or not.
	seen := make(chan string, 2)
	catchAll := startFaultUpstream(t, false, map[string]upstreamHandler{
		"/chat": func(nc net.Conn, u *ws.Upgrade, _ <-chan struct{}) {
			seen <- u.Request.Host + " " + u.Request.RequestURI
			_ = u.Reject(http.StatusTeapot, "seen")
		},
	})
	all := serveRoutes(t, true, upstreamRoute(catchAll))
	if got, body := request(t, all, head("GET ws://"+otherAddr+"/chat HTTP/1.1", "127.0.0.1")); got != http.StatusBadRequest {
		t.Errorf("absolute-form on a catch-all route: %d %q, want 400", got, body)
	}
	for _, h := range []string{head("GET /chat HTTP/1.1", otherAddr)} {
		got, body := request(t, all, h)
		select {
		case s := <-seen:
			if want := strings.TrimPrefix(catchAll.url, "ws://") + " /chat"; s != want {
				t.Errorf("the configured upstream got %q, want %q", s, want)
			}
		case <-time.After(waitTimeout):
			t.Errorf("catch-all route: %d %q and the configured upstream saw nothing", got, body)
		}
	}
	if n := other.accepted.Load(); n != 0 {
		t.Errorf("the host named by the requests got %d connections: an open proxy", n)
	}
}

// With an origin allow-list, other origins get 403 and never reach the
// upstream, and the refusal is logged.
func TestOriginPolicyNeverReachesUpstream(t *testing.T) {
	t.Parallel()
	up := startFaultUpstream(t, false, nil)
	px := serveRoutes(t, true, upstreamRoute(up, "allowed_origins: [https://app.example]"))
	for _, origin := range []string{"https://evil.example", "https://app.example.evil.example", "null"} {
		if got, body := request(t, px, upgradeHead("Origin: "+origin)); got != http.StatusForbidden {
			t.Errorf("Origin %s: %d %q, want 403", origin, got, body)
		}
	}
	px.waitLog(t, "origin refusal line", func(l logLine) bool {
		return l.str("message") == "origin refused" && strings.Contains(l.str("error"), "evil.example")
	})
	if n := up.accepted.Load(); n != 0 {
		t.Errorf("refused origins reached the upstream %d times", n)
	}
	if got, body := request(t, px, upgradeHead("Origin: https://app.example")); got != http.StatusSwitchingProtocols {
		t.Errorf("allowed origin: %d %q", got, body)
	}
}

// The admin API refuses calls without the bearer token or with a wrong
// one (401 with WWW-Authenticate, nothing done), logs the wrong ones, and
// answers the right one. The probes need no token. (The comparison is
// constant-time: SHA-256 of both, then subtle.ConstantTimeCompare, in
// proxy/admin; timing is not measured here.)
func TestAdminAPIAuth(t *testing.T) {
	t.Parallel()
	up := startFaultUpstream(t, false, nil)
	flags, token := adminFlags(t)
	px := startServe(t, append(append(devCert(), "--upstream", up.url+"/"), flags...)...)
	admin := px.adminURL(t)
	c := dialThrough(t, px, "held", nil) // connection 1, which a close would end
	wrong := []byte(token)
	wrong[len(wrong)-1] ^= 1
	for _, auth := range []string{
		"",
		"Bearer",
		"Bearer " + string(wrong),
		"Bearer " + token[:len(token)-1],
		"Bearer " + token + "x",
		"Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+token)),
		token,
	} {
		for _, ep := range []struct{ method, path string }{
			{"GET", "/v1/connections"}, {"GET", "/v1/paused"}, {"GET", "/metrics"},
			{"POST", "/v1/connections/1/close"}, {"POST", "/v1/paused/X/resume"},
		} {
			got, body := adminDo(t, ep.method, admin+ep.path, auth)
			if got != http.StatusUnauthorized {
				t.Errorf("%s %s with Authorization %q: %d %q, want 401", ep.method, ep.path, auth, got, body)
			}
		}
	}
	if !c.IsValid() {
		t.Errorf("a refused close call closed the connection")
	}
	px.waitLog(t, "wrong token line", func(l logLine) bool { return strings.Contains(l.str("message"), "wrong bearer token") })
	for _, p := range []string{"/healthz", "/readyz"} {
		if got, body := adminDo(t, "GET", admin+p, ""); got != http.StatusOK {
			t.Errorf("%s without a token: %d %q", p, got, body)
		}
	}
	if got, body := adminDo(t, "GET", admin+"/v1/connections", "Bearer "+token); got != http.StatusOK || !strings.Contains(body, `"id"`) {
		t.Errorf("with the token: %d %q", got, body)
	}
	if strings.Contains(px.stderr.String(), token) {
		t.Errorf("the admin token appears in serve's log")
	}
}

// A full session at trace level (certificate and PSK clients, a PSK
// upstream, admin calls with right and wrong tokens, a reload, a drain)
// never writes a secret to stdout or stderr: not the PSKs, the admin
// token, nor the private key, in any of the encodings a log might use.
func TestSecretsAbsentFromLogs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	up := startFaultUpstream(t, false, nil)
	devKey, upKey := make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(devKey)
	_, _ = rand.Read(upKey)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pskFile := write("psk.txt", "device-1:"+hex.EncodeToString(devKey)+"\nproxy-1:"+hex.EncodeToString(upKey)+"\n")
	upKeyFile := write("upstream.key", hex.EncodeToString(upKey)+"\n")
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	copyFile(t, env.dev.CertFile, cert)
	copyFile(t, env.dev.KeyFile, key)
	flags, token := adminFlags(t)
	trace := []string{"--log-level", "trace"}
	// front: certificate and PSK clients, admin API; back: reaches front
	// over PSK as the upstream.
	front := startServe(t, append(append([]string{"--cert", cert, "--key", key, "--psk-file", pskFile, "--upstream", up.url + "/"}, flags...), trace...)...)
	back := startServe(t, append([]string{"--upstream", "wss://" + front.addr + "/", "--upstream-psk-identity", "proxy-1", "--upstream-psk-key-file", upKeyFile}, trace...)...)
	admin := front.adminURL(t)

	session := func(px *serveProc, opts *ws.DialOptions, what string) {
		c := dialThrough(t, px, "session", opts)
		ctx := testpeer.Context(t, waitTimeout)
		testpeer.Echo(ctx, t, c, ws.MessageText, what)
		if err := c.Close(ws.StatusNormalClosure, "bye"); err != nil {
			t.Errorf("%s: close: %v", what, err)
		}
	}
	session(front, nil, "certificate client")
	session(front, &ws.DialOptions{TLSClient: (&psk.ClientConfig{Identity: []byte("device-1"), Key: devKey}).TLSClient}, "PSK device")
	session(back, nil, "through the PSK upstream")
	held := dialThrough(t, front, "held", nil)
	for _, auth := range []string{"Bearer " + token, "Bearer wrong-token-0123456789", ""} {
		adminDo(t, "GET", admin+"/v1/connections", auth)
		adminDo(t, "GET", admin+"/metrics", auth)
	}
	if err := front.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	front.waitLog(t, "reload line", func(l logLine) bool { return strings.Contains(l.str("message"), "reloaded") })
	for _, px := range []*serveProc{back, front} {
		if err := px.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := px.wait(t, 10*time.Second); code != 0 {
			t.Errorf("serve exited %d", code)
		}
	}
	held.Abort()

	// Every encoding of every secret that a log line could carry.
	secrets := map[string][]byte{"device PSK": devKey, "upstream PSK": upKey, "admin token": []byte(token)}
	pemBytes, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		t.Fatal("no PEM block in the key file")
	}
	secrets["private key (DER)"] = block.Bytes
	var needles []struct{ what, s string }
	for what, b := range secrets {
		for _, enc := range []string{string(b), hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
			base64.StdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b)} {
			// Long enough to mean something, short enough to catch a
			// prefix or a wrapped line.
			if len(enc) > 40 {
				enc = enc[len(enc)/2-20 : len(enc)/2+20]
			}
			needles = append(needles, struct{ what, s string }{what, enc})
		}
	}
	for _, l := range strings.Split(string(pemBytes), "\n") {
		if len(l) >= 40 && !strings.HasPrefix(l, "-----") {
			needles = append(needles, struct{ what, s string }{"private key PEM line", l})
		}
	}
	total, verbose := 0, 0
	for _, px := range []*serveProc{front, back} {
		out := strings.Join(px.output(), "\n") + "\n" + px.stderr.String()
		total += len(out)
		verbose += strings.Count(out, `"level":"trace"`) + strings.Count(out, `"level":"debug"`)
		for _, n := range needles {
			if strings.Contains(out, n.s) {
				t.Errorf("the %s appears in serve's output", n.what)
			}
		}
	}
	if verbose == 0 {
		t.Errorf("no trace or debug line: the session was not logged below info")
	}
	t.Logf("%d bytes of output (%d trace/debug lines) from 2 serve processes, %d encodings of %d secrets searched", total, verbose, len(needles), len(secrets)+1)
}

// opensslTry runs openssl s_client against addr with args and returns
// the negotiated protocol and cipher ("" when the handshake failed) and
// its output.
func opensslTry(t *testing.T, bin, addr string, args ...string) (proto, cipher, out string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"s_client", "-connect", addr, "-CAfile", env.dev.CACertFile}, args...)...)
	cmd.Stdin = bytes.NewReader(nil)
	b, _ := cmd.CombinedOutput()
	out = string(b)
	if m := negotiated.FindStringSubmatch(out); m != nil && m[2] != "(NONE)" {
		return m[1], m[2], out
	}
	return "", "", out
}

var negotiated = regexp.MustCompile(`(?:New|Reused), (\S+), Cipher is (\S+)`) // "Reused" with a PSK

// TLS versions and cipher suites of serve's listeners, as openssl
// s_client sees them, for certificate clients and for TLS-PSK devices
// (the project's own PSK stack, with --psk-tls12): TLS 1.0 and 1.1
// refused, 1.2 and 1.3 accepted, and of every TLS 1.2 suite openssl can
// offer, tried one at a time, only AEAD suites without RSA key exchange
// are accepted (no CBC, RC4, 3DES, NULL, no RSA or RSA-PSK key exchange).
func TestTLSVersionsAndSuites(t *testing.T) {
	t.Parallel()
	bin := testpeer.LookPath(t, "openssl", "apt-get install openssl")
	t.Logf("peer: %s", testpeer.ProgramVersion(bin, "version"))
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	pskFile := filepath.Join(t.TempDir(), "psk.txt")
	if err := os.WriteFile(pskFile, []byte("device-1:"+hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, l := range []struct {
		name  string
		flags []string
		// suites is openssl's cipher list for TLS 1.2 and below (with
		// @SECLEVEL=0: openssl's own defaults would refuse old versions
		// and weak suites itself, and the test would prove nothing);
		// client are the s_client flags of this kind of client.
		suites string
		client []string
		kx     []string // the TLS 1.2 key exchanges allowed
	}{
		{"certificate", devCert(), "ALL:COMPLEMENTOFALL:@SECLEVEL=0", nil, []string{"ECDH"}},
		{"psk", []string{"--psk-file", pskFile, "--psk-tls12"}, "PSK:@SECLEVEL=0",
			[]string{"-psk_identity", "device-1", "-psk", hex.EncodeToString(key)}, []string{"PSK", "ECDHEPSK", "DHEPSK"}},
	} {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			px := startServe(t, l.flags...)
			checkTLS(t, bin, px.addr, l.suites, l.client, l.kx)
		})
	}
}

func checkTLS(t *testing.T, bin, addr, suites string, client, kxOK []string) {
	try := func(args ...string) (string, string, string) {
		return opensslTry(t, bin, addr, append(append([]string{}, client...), args...)...)
	}
	for _, v := range []struct {
		flag, name string
		ok         bool
	}{{"-tls1", "TLSv1", false}, {"-tls1_1", "TLSv1.1", false}, {"-tls1_2", "TLSv1.2", true}, {"-tls1_3", "TLSv1.3", true}} {
		proto, cipher, out := try(v.flag, "-cipher", suites)
		if strings.Contains(out, "no protocols available") || strings.Contains(out, "no ciphers available") {
			t.Fatalf("%s: openssl could not offer it here, the check proves nothing:\n%s", v.name, out)
		}
		switch {
		case v.ok && proto != v.name:
			t.Errorf("%s refused, want accepted:\n%s", v.name, out)
		case !v.ok && proto != "":
			t.Errorf("%s accepted (%s), want refused", v.name, cipher)
		default:
			t.Logf("%s: accepted %v %s", v.name, v.ok, cipher)
		}
	}
	// Every TLS 1.2 suite of the list, one at a time.
	list, err := exec.Command(bin, "ciphers", "-v", suites).Output()
	if err != nil {
		t.Fatal(err)
	}
	var tried, accepted []string
	for _, line := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[1] == "TLSv1.3" {
			continue
		}
		name, kx, enc := f[0], strings.TrimPrefix(f[2], "Kx="), strings.TrimPrefix(f[4], "Enc=")
		tried = append(tried, name)
		proto, cipher, _ := try("-tls1_2", "-cipher", name+":@SECLEVEL=0")
		if proto == "" {
			continue
		}
		accepted = append(accepted, cipher)
		aead := strings.Contains(enc, "GCM") || strings.Contains(enc, "CHACHA20") || strings.Contains(enc, "CCM")
		if !slices.Contains(kxOK, kx) || !aead {
			t.Errorf("TLS 1.2 suite %s accepted: key exchange %s, encryption %s (want %v with an AEAD)", name, kx, enc, kxOK)
		}
	}
	if len(accepted) == 0 {
		t.Errorf("no TLS 1.2 suite accepted out of %d", len(tried))
	}
	t.Logf("TLS 1.2: %d suites tried, accepted %v", len(tried), accepted)
	var accepted13 []string
	for _, s := range []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256"} {
		if proto, cipher, _ := try("-tls1_3", "-ciphersuites", s); proto != "" {
			accepted13 = append(accepted13, cipher)
		}
	}
	if len(accepted13) == 0 {
		t.Errorf("no TLS 1.3 suite accepted")
	}
	t.Logf("TLS 1.3: accepted %v", accepted13)
}
