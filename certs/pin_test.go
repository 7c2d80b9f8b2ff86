package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/tlsconf"
)

// opensslPin computes the SPKI pin of the first certificate in file the
// way curl's documentation does, with the real openssl binary.
func opensslPin(t *testing.T, openssl, file string) string {
	t.Helper()
	script := `"$1" x509 -in "$2" -pubkey -noout | "$1" pkey -pubin -outform der | "$1" dgst -sha256 -binary | base64`
	out, err := exec.Command("sh", "-c", script, "sh", openssl, file).Output()
	if err != nil {
		t.Fatalf("openssl pin pipeline: %v", err)
	}
	return "sha256//" + strings.TrimSpace(string(out))
}

// opensslFingerprint returns openssl's SHA-256 fingerprint of the first
// certificate in file, as lower-case hex without colons.
func opensslFingerprint(t *testing.T, openssl, file string) string {
	t.Helper()
	out, err := exec.Command(openssl, "x509", "-in", file, "-noout", "-fingerprint", "-sha256").Output()
	if err != nil {
		t.Fatalf("openssl fingerprint: %v", err)
	}
	_, fp, ok := strings.Cut(strings.TrimSpace(string(out)), "=")
	if !ok {
		t.Fatalf("unexpected openssl output %q", out)
	}
	return strings.ToLower(strings.ReplaceAll(fp, ":", ""))
}

func TestSummarizePEMMatchesOpenSSL(t *testing.T) {
	t.Parallel()
	openssl := testpeer.LookPath(t, "openssl", "apt-get install openssl")
	dir := t.TempDir()
	for _, kt := range []string{"rsa", "ecdsa", "ed25519"} {
		tc := validCert(t, kt, "pin-"+kt)
		file := filepath.Join(dir, kt+".pem")
		// A key before the certificate must be skipped.
		writeFile(t, file, append(append([]byte{}, tc.keyPEM...), tc.certPEM...))
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		infos, err := SummarizePEM(data)
		if err != nil {
			t.Fatal(err)
		}
		if len(infos) != 1 {
			t.Fatalf("%s: %d certificates", kt, len(infos))
		}
		if want := opensslPin(t, openssl, file); infos[0].SPKIPin != want {
			t.Errorf("%s: pin %s, openssl %s", kt, infos[0].SPKIPin, want)
		}
		if want := opensslFingerprint(t, openssl, file); infos[0].Fingerprint != want {
			t.Errorf("%s: fingerprint %s, openssl %s", kt, infos[0].Fingerprint, want)
		}
	}

	// A chain file: leaf then CA, in order.
	r := mustDevCA(t, &DevCAOptions{Dir: filepath.Join(dir, "dev")})
	leafPEM, _ := os.ReadFile(r.CertFile)
	caPEM, _ := os.ReadFile(r.CACertFile)
	infos, err := SummarizePEM(append(leafPEM, caPEM...))
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 || infos[0].SPKIPin != r.SPKIPin || infos[1].SPKIPin != opensslPin(t, openssl, r.CACertFile) || !infos[1].IsCA {
		t.Fatalf("chain infos: %+v", infos)
	}
	var out bytes.Buffer
	if err := WriteSummaries(&out, infos); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"certificate 0\n", "certificate 1\n", "spki pin:    " + r.SPKIPin, "names:       localhost, 127.0.0.1, ::1", "ca:          true"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	t.Logf("pin output:\n%s", out.String())

	if _, err := SummarizePEM([]byte("nothing")); !errors.Is(err, ErrNoCertificate) {
		t.Fatalf("no certificates: %v", err)
	}
}

func TestProbeChain(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := mustDevCA(t, &DevCAOptions{Dir: dir, Hosts: []string{"probe.test"}})
	src, err := NewFileSource(&FileOptions{CertFile: r.CertFile, KeyFile: r.KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	var sawSNI atomic.Value
	cfg := TLSConfig(src, nil)
	get := cfg.GetCertificate
	cfg.GetCertificate = func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		sawSNI.Store(h.ServerName)
		return get(h)
	}
	addr := serveTLS(t, cfg)

	// Untrusted (dev CA not in the system roots), yet the chain comes back.
	var dials atomic.Int32
	dial := func(ctx context.Context, network, a string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, a)
	}
	res, err := ProbeChain(context.Background(), addr, &ProbeOptions{SNI: "probe.test", Dial: dial})
	if err != nil {
		t.Fatal(err)
	}
	if dials.Load() != 1 || sawSNI.Load() != "probe.test" || res.ServerName != "probe.test" {
		t.Fatalf("dials=%d sni=%v", dials.Load(), sawSNI.Load())
	}
	if len(res.Chain) != 1 || tlsconf.Summarize(res.Chain)[0].SPKIPin != r.SPKIPin {
		t.Fatalf("chain: %+v", tlsconf.Summarize(res.Chain))
	}

	// An IP address sends no SNI by default.
	if _, err := ProbeChain(context.Background(), addr, nil); err != nil {
		t.Fatal(err)
	}
	if sawSNI.Load() != "" {
		t.Fatalf("SNI %q sent for an IP address", sawSNI.Load())
	}

	// A cancelled context and a closed port fail.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ProbeChain(ctx, addr, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if _, err := ProbeChain(context.Background(), closed, nil); err == nil {
		t.Fatal("probe of a closed port succeeded")
	}
	if _, err := ProbeChain(context.Background(), "no-port", nil); err == nil {
		t.Fatal("probe without a port succeeded")
	}
}
