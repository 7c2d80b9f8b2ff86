package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/tlsconf"
)

// runCerts runs "wssproxy certs ARGS..." in-process: exit code, stdout,
// stderr.
func runCerts(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return testpeer.RunCommand(t, func(ctx context.Context, stdout, stderr io.Writer) int {
		return RunCerts(ctx, args, stdout, stderr)
	})
}

func TestCertsUsageErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "notes.txt")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{}, 2, "wssproxy certs dev"},
		{[]string{"nope"}, 2, `unknown subcommand "nope"`},
		{[]string{"pin"}, 2, "want FILE or HOST:PORT"},
		{[]string{"pin", "a.pem", "b.pem"}, 2, `unexpected argument "b.pem"`},
		{[]string{"pin", notPEM, "--sni", "x"}, 2, "only apply to HOST:PORT"},
		{[]string{"pin", "example.com:443", "--proxy", "ftp://p:21"}, 2, "unsupported proxy scheme"},
		{[]string{"pin", "--timeout", "0s", "example.com:443"}, 2, "--timeout must be positive"},
		{[]string{"pin", "--bogus", "x"}, 2, "flag provided but not defined"},
		{[]string{"dev", "--dir", dir, "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"pin", filepath.Join(dir, "missing.pem")}, 1, "no such file"},
		{[]string{"pin", "example.com"}, 1, "no such file (for a server, give HOST:PORT)"},
		{[]string{"pin", notPEM}, 1, "certs:"},
		{[]string{"dev", "--dir", dir, "--host", "bad name"}, 1, "invalid host name"},
	}
	for _, tc := range cases {
		code, out, errOut := runCerts(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut+out, tc.msg) {
			t.Errorf("%q: exit %d, output %q %q; want exit %d containing %q", tc.args, code, out, errOut, tc.code, tc.msg)
		}
	}
	for _, args := range [][]string{{"--help"}, {"dev", "--help"}, {"pin", "--help"}} {
		code, out, errOut := runCerts(t, args...)
		if code != 0 || !strings.Contains(out+errOut, "Usage:") {
			t.Errorf("%q: exit %d %q", args, code, out+errOut)
		}
	}
}

var (
	pinRE = regexp.MustCompile(`(?m)^  spki pin:    (sha256//\S+)$`)
	fpRE  = regexp.MustCompile(`(?m)^  sha256:      ([0-9a-f]{64})$`)
)

// opensslPin is the SPKI pin by the openssl pipeline of the certs README.
func opensslPin(t *testing.T, openssl, certFile string) string {
	t.Helper()
	cmd := exec.Command("sh", "-c", `"$0" x509 -in "$1" -pubkey -noout | "$0" pkey -pubin -outform der | "$0" dgst -sha256 -binary | base64`, openssl, certFile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl pipeline: %v\n%s", err, out)
	}
	return "sha256//" + strings.TrimSpace(string(out))
}

func opensslFingerprint(t *testing.T, openssl, certFile string) string {
	t.Helper()
	out, err := exec.Command(openssl, "x509", "-in", certFile, "-noout", "-fingerprint", "-sha256").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl fingerprint: %v\n%s", err, out)
	}
	_, fp, _ := strings.Cut(strings.TrimSpace(string(out)), "=")
	return strings.ToLower(strings.ReplaceAll(fp, ":", ""))
}

// selfSigned returns a PEM self-signed certificate for key.
func selfSigned(t *testing.T, cn string, key any, pub any) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{cn},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestCertsPinFileMatchesOpenSSL(t *testing.T) {
	openssl := testpeer.LookPath(t, "openssl", "apt-get install openssl")
	dir := t.TempDir()
	if code, _, errOut := runCerts(t, "dev", "--dir", dir); code != 0 {
		t.Fatal(errOut)
	}
	leaf, _ := os.ReadFile(filepath.Join(dir, "cert.pem"))
	ca, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	blocks := [][]byte{
		leaf, ca,
		selfSigned(t, "rsa.test", rsaKey, &rsaKey.PublicKey),
		selfSigned(t, "ed25519.test", edKey, edPub),
		selfSigned(t, "p384.test", p384, &p384.PublicKey),
	}
	var wantPins, wantFPs []string
	for i, b := range blocks {
		f := filepath.Join(dir, "c"+string(rune('0'+i))+".pem")
		os.WriteFile(f, b, 0o600)
		wantPins = append(wantPins, opensslPin(t, openssl, f))
		wantFPs = append(wantFPs, opensslFingerprint(t, openssl, f))
	}
	chain := filepath.Join(dir, "chain.pem")
	// A key block in between is skipped.
	all := append(bytes.Join(blocks[:2], nil), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"...)
	all = append(all, bytes.Join(blocks[2:], nil)...)
	os.WriteFile(chain, all, 0o600)

	code, out, errOut := runCerts(t, "pin", chain)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var gotPins, gotFPs []string
	for _, m := range pinRE.FindAllStringSubmatch(out, -1) {
		gotPins = append(gotPins, m[1])
	}
	for _, m := range fpRE.FindAllStringSubmatch(out, -1) {
		gotFPs = append(gotFPs, m[1])
	}
	if strings.Join(gotPins, " ") != strings.Join(wantPins, " ") {
		t.Errorf("pins\n got %v\nwant %v (openssl)", gotPins, wantPins)
	}
	if strings.Join(gotFPs, " ") != strings.Join(wantFPs, " ") {
		t.Errorf("fingerprints\n got %v\nwant %v (openssl)", gotFPs, wantFPs)
	}
	for _, want := range []string{"certificate 4", "subject:     CN=rsa.test", "ca:          true"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestCertsDevReusesCA(t *testing.T) {
	openssl := testpeer.LookPath(t, "openssl", "apt-get install openssl")
	dir := filepath.Join(t.TempDir(), "devca")
	code, first, errOut := runCerts(t, "dev", "--dir", dir, "--host", "ws.example.test")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	caFile := filepath.Join(dir, "ca.pem")
	for _, want := range []string{
		"CA certificate (trust this): " + caFile + " (created)",
		"certificate:                 " + filepath.Join(dir, "cert.pem") + " (issued)",
		"names:                       localhost, 127.0.0.1, ::1, ws.example.test",
		"curl --cacert " + caFile,
		"SSL_CERT_FILE=" + caFile,
		"openssl verify -CAfile " + caFile,
	} {
		if !strings.Contains(first, want) {
			t.Errorf("first run lacks %q:\n%s", want, first)
		}
	}
	caBefore, _ := os.ReadFile(caFile)
	code, second, _ := runCerts(t, "dev", "--dir", dir, "--host", "ws.example.test")
	if code != 0 || !strings.Contains(second, "(reused)\ncertificate:") || strings.Contains(second, "(created)") || strings.Contains(second, "(issued)") {
		t.Fatalf("second run did not reuse CA and leaf:\n%s", second)
	}
	pin := regexp.MustCompile(`(?m)^pin: +(\S+)$`)
	if a, b := pin.FindStringSubmatch(first), pin.FindStringSubmatch(second); a == nil || b == nil || a[1] != b[1] {
		t.Fatalf("pins differ: %v %v", a, b)
	}
	// A new name: new leaf, same CA.
	code, third, _ := runCerts(t, "dev", "--dir", dir, "--host", "other.test,10.9.8.7")
	caAfter, _ := os.ReadFile(caFile)
	if code != 0 || !strings.Contains(third, "(reused)\ncertificate:") || !strings.Contains(third, "(issued)") || !bytes.Equal(caBefore, caAfter) {
		t.Fatalf("third run:\n%s", third)
	}
	out, err := exec.Command(openssl, "verify", "-CAfile", caFile, filepath.Join(dir, "cert.pem")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), ": OK") {
		t.Fatalf("openssl verify: %v\n%s", err, out)
	}
	// The pin printed is the openssl one.
	if p := pin.FindStringSubmatch(third); p == nil || p[1] != opensslPin(t, openssl, filepath.Join(dir, "cert.pem")) {
		t.Fatalf("pin %v differs from openssl's", p)
	}
}

// startTLSServer serves TLS handshakes with the dev leaf in dir on
// 127.0.0.1 until the test ends.
func startTLSServer(t *testing.T, dir string) string {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return testpeer.ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
}

// checkPinOutput checks a "certs pin HOST:PORT" output: the leaf pin, the
// error kinds listed, and that the printed config lines parse and accept
// exactly the errors found.
func checkPinOutput(t *testing.T, out, wantPin string, wantKinds ...string) {
	t.Helper()
	m := pinRE.FindStringSubmatch(out)
	if m == nil || m[1] != wantPin {
		t.Fatalf("leaf pin %v, want %s:\n%s", m, wantPin, out)
	}
	if !strings.Contains(out, " --upstream-pin "+wantPin+" --upstream-pin-only  # ") || !strings.Contains(out, " --pin "+wantPin+" --pin-only  # --pin-only: ") {
		t.Fatalf("no pin lines for client and serve:\n%s", out)
	}
	if _, err := tlsconf.ParsePin(wantPin); err != nil {
		t.Fatal(err)
	}
	_, verification, _ := strings.Cut(out, "\nverification against the system roots")
	var kinds []string
	for _, k := range tlsconf.ErrorKinds() {
		if strings.Contains(verification, "\n  "+k.String()+" at depth") {
			kinds = append(kinds, k.String())
		}
	}
	if strings.Join(kinds, ",") != strings.Join(wantKinds, ",") {
		t.Fatalf("errors %v, want %v:\n%s", kinds, wantKinds, out)
	}
	lines := regexp.MustCompile(`--upstream-ignore-ssl-error (\S+)`).FindAllStringSubmatch(out, -1)
	if len(lines) != len(wantKinds) {
		t.Fatalf("%d ignore lines, want %d:\n%s", len(lines), len(wantKinds), out)
	}
	fp := fpRE.FindStringSubmatch(out)[1]
	for i, l := range lines {
		e, err := tlsconf.ParseExpectedError(l[1])
		if err != nil || e.Kind.String() != wantKinds[i] || e.Fingerprint != fp {
			t.Fatalf("ignore line %q: %+v %v (leaf fingerprint %s)", l[1], e, err, fp)
		}
	}
}

func TestCertsPinServer(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := runCerts(t, "dev", "--dir", dir, "--host", "ws.example.test"); code != 0 {
		t.Fatal(errOut)
	}
	leafPin := tlsconf.SPKIPin(testpeer.ReadLeaf(t, filepath.Join(dir, "cert.pem")))
	addr := startTLSServer(t, dir)
	_, port, _ := net.SplitHostPort(addr)
	// Keep the environment from routing these through a proxy.
	t.Setenv("HTTPS_PROXY", "")
	t.Setenv("https_proxy", "")
	t.Setenv("ALL_PROXY", "")
	t.Setenv("all_proxy", "")

	t.Run("localhost", func(t *testing.T) {
		code, out, errOut := runCerts(t, "pin", "localhost:"+port)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if !strings.Contains(out, "(SNI localhost)") || !strings.Contains(out, `for "localhost"`) {
			t.Fatalf("SNI:\n%s", out)
		}
		checkPinOutput(t, out, leafPin, "unknown-authority")
	})
	t.Run("IP without SNI", func(t *testing.T) {
		code, out, errOut := runCerts(t, "pin", addr)
		if code != 0 || !strings.Contains(out, "(no SNI)") {
			t.Fatalf("exit %d: %s %s", code, out, errOut)
		}
		checkPinOutput(t, out, leafPin, "unknown-authority")
	})
	t.Run("wrong SNI", func(t *testing.T) {
		code, out, errOut := runCerts(t, "pin", addr, "--sni", "wrong.example")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		checkPinOutput(t, out, leafPin, "unknown-authority", "hostname-mismatch")
	})
	t.Run("through tinyproxy", func(t *testing.T) {
		proxy := testpeer.StartTinyproxy(t, testpeer.TinyproxyOptions{})
		code, out, errOut := runCerts(t, "pin", "--proxy", "http://"+proxy, "localhost:"+port, "--sni", "ws.example.test")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if !strings.Contains(out, "via http://"+proxy) {
			t.Fatalf("no via line:\n%s", out)
		}
		checkPinOutput(t, out, leafPin, "unknown-authority")
	})
	t.Run("through tinyproxy with auth", func(t *testing.T) {
		proxy := testpeer.StartTinyproxy(t, testpeer.TinyproxyOptions{User: "carol", Pass: "pr0xy-pw"})
		code, _, errOut := runCerts(t, "pin", "--proxy", "http://"+proxy, addr)
		if code != 1 || !strings.Contains(errOut, "407") || !strings.Contains(errOut, "give the credentials in the proxy URL") {
			t.Fatalf("without credentials: exit %d %s", code, errOut)
		}
		bad := url.URL{Scheme: "http", User: url.UserPassword("carol", "wrong-pw"), Host: proxy}
		code, _, errOut = runCerts(t, "pin", "--proxy", bad.String(), addr)
		if code != 1 || !strings.Contains(errOut, "the proxy refused the credentials") || strings.Contains(errOut, "give the credentials") || strings.Contains(errOut, "wrong-pw") {
			t.Fatalf("wrong credentials: exit %d %s", code, errOut)
		}
		u := url.URL{Scheme: "http", User: url.UserPassword("carol", "pr0xy-pw"), Host: proxy}
		code, out, errOut := runCerts(t, "pin", "--proxy", u.String(), addr)
		if code != 0 || strings.Contains(out+errOut, "pr0xy-pw") {
			t.Fatalf("exit %d: %s %s", code, out, errOut)
		}
		checkPinOutput(t, out, leafPin, "unknown-authority")
	})
	t.Run("through microsocks", func(t *testing.T) {
		proxy := testpeer.StartMicrosocks(t, "", "")
		code, out, errOut := runCerts(t, "pin", "--proxy", "socks5h://"+proxy, "localhost:"+port)
		if code != 0 || !strings.Contains(out, "via socks5h://"+proxy) {
			t.Fatalf("exit %d: %s %s", code, out, errOut)
		}
		checkPinOutput(t, out, leafPin, "unknown-authority")
	})
	t.Run("environment", func(t *testing.T) {
		// Loopback targets never use the environment's proxy.
		t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
		code, out, errOut := runCerts(t, "pin", addr)
		if code != 0 || strings.Contains(out, " via ") {
			t.Fatalf("exit %d: %s %s", code, out, errOut)
		}
		t.Setenv("HTTPS_PROXY", "ftp://bad")
		if code, _, errOut := runCerts(t, "pin", addr); code != 1 || !strings.Contains(errOut, "HTTPS_PROXY") {
			t.Fatalf("bad HTTPS_PROXY: exit %d %s", code, errOut)
		}
	})
	t.Run("nothing listening", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		closed := ln.Addr().String()
		ln.Close()
		if code, _, errOut := runCerts(t, "pin", closed); code != 1 || !strings.Contains(errOut, "refused") {
			t.Fatalf("exit %d %s", code, errOut)
		}
	})
}
