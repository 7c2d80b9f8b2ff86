package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/tlsconf"
)

// challengeListeners are the test's own listeners on 127.0.0.1 that answer
// the CA's challenges: plain HTTP (HTTP-01) and TLS (TLS-ALPN-01, and
// normal handshakes for the test client).
type challengeListeners struct {
	httpLn, tlsLn net.Listener
	httpPort      int
	tlsPort       int
	tlsAddr       string
}

func newChallengeListeners(t *testing.T) *challengeListeners {
	t.Helper()
	h, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(); s.Close() })
	return &challengeListeners{
		httpLn: h, tlsLn: s,
		httpPort: h.Addr().(*net.TCPAddr).Port,
		tlsPort:  s.Addr().(*net.TCPAddr).Port,
		tlsAddr:  s.Addr().String(),
	}
}

// serve runs an HTTP server with src's HTTP-01 handler (only when
// withHTTP01 is set) on the plain listener and a TLS server with
// TLSConfig(src) on the other, until cleanup.
func (l *challengeListeners) serve(t *testing.T, src *ACMESource, withHTTP01 bool) {
	t.Helper()
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "not an ACME challenge", http.StatusNotFound)
	})
	if withHTTP01 {
		h = src.HTTPHandler(h)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	ts := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "hello over TLS")
	}), TLSConfig: TLSConfig(src, &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}), ReadHeaderTimeout: 5 * time.Second}
	var wg sync.WaitGroup
	wg.Go(func() { _ = hs.Serve(l.httpLn) })
	wg.Go(func() { _ = ts.ServeTLS(l.tlsLn, "", "") })
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		_ = ts.Shutdown(ctx)
		wg.Wait()
	})
}

// newTestACMESource starts Pebble and the listeners and returns a source
// using them.
func newTestACMESource(t *testing.T, opts ACMEOptions) (*ACMESource, *testpeer.Pebble, *challengeListeners, *testpeer.Buffer) {
	return newTestACMESourceWiring(t, opts, true)
}

func newTestACMESourceWiring(t *testing.T, opts ACMEOptions, withHTTP01 bool) (*ACMESource, *testpeer.Pebble, *challengeListeners, *testpeer.Buffer) {
	t.Helper()
	l := newChallengeListeners(t)
	p := testpeer.StartPebble(t, l.httpPort, l.tlsPort)
	var logs testpeer.Buffer
	opts.CA = p.DirURL
	opts.RootCAs = p.APIRoots
	opts.StorageDir = t.TempDir()
	opts.ListenHost = "127.0.0.1"
	opts.HTTPPort, opts.TLSPort = l.httpPort, l.tlsPort
	opts.Logger = zerolog.New(&logs).Level(zerolog.InfoLevel)
	if opts.Email == "" {
		opts.Email = "ops@wssproxy.test"
	}
	src, err := NewACMESource(&opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		src.Close()
		if t.Failed() {
			t.Logf("source logs:\n%s", logs.String())
		}
	})
	l.serve(t, src, withHTTP01)
	return src, p, l, &logs
}

// verifiedHandshake connects to the TLS listener with SNI name, verifying
// the chain against roots, and returns the leaf.
func verifiedHandshake(t *testing.T, addr, name string, roots *x509.CertPool) (*x509.Certificate, error) {
	t.Helper()
	return handshakeLeaf(t, addr, &tls.Config{ServerName: name, RootCAs: roots})
}

// verifiedLeaf is verifiedHandshake that fails the test on an error.
func verifiedLeaf(t *testing.T, addr, name string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	leaf, err := verifiedHandshake(t, addr, name, roots)
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

// manageAndHandshake runs src.Manage and returns Pebble's issuing roots
// and the leaf a handshake verified with them gets for name at addr.
func manageAndHandshake(ctx context.Context, t *testing.T, src *ACMESource, p *testpeer.Pebble, addr, name string) (*x509.CertPool, *x509.Certificate) {
	t.Helper()
	if err := src.Manage(ctx); err != nil {
		t.Fatal(err)
	}
	roots := p.IssuingRoots(t)
	return roots, verifiedLeaf(t, addr, name, roots)
}

// renewAndHandshake forces the renewal of name's certificate and returns
// the leaf a verified handshake at addr gets after it.
func renewAndHandshake(ctx context.Context, t *testing.T, src *ACMESource, addr, name string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	if err := src.Renew(ctx, name, true); err != nil {
		t.Fatal(err)
	}
	return verifiedLeaf(t, addr, name, roots)
}

// TestACMEHTTP01 obtains a certificate with HTTP-01 from Pebble, serves a
// verified handshake with it, and renews it keeping the private key.
func TestACMEHTTP01(t *testing.T) {
	t.Parallel()
	const name = "http01.wssproxy.test"
	src, p, l, logs := newTestACMESource(t, ACMEOptions{
		Domains:          []string{name},
		DisableTLSALPN01: true,
		ReusePrivateKeys: true,
		ClientsPinSPKI:   true,
	})
	ctx := testpeer.Context(t, 45*time.Second)
	roots, first := manageAndHandshake(ctx, t, src, p, l.tlsAddr, name)
	// Pebble really fetched the key authorization from our listener.
	if !strings.Contains(logs.String(), `"challenge":"http-01"`) || !strings.Contains(logs.String(), "served key authentication") {
		t.Errorf("no http-01 challenge served in the logs:\n%s", logs.String())
	}
	// The HTTP listener still serves other requests.
	resp, err := http.Get("http://" + l.httpLn.Addr().String() + "/other")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("non-challenge request: %s", resp.Status)
	}

	second := renewAndHandshake(ctx, t, src, l.tlsAddr, name, roots)
	if second.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatal("renewal served the same certificate")
	}
	if tlsconf.SPKIPin(second) != tlsconf.SPKIPin(first) {
		t.Fatal("ReusePrivateKeys: the renewed certificate has a new key")
	}

	if err := src.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := verifiedHandshake(t, l.tlsAddr, name, roots); err != nil || !got.Equal(second) {
		t.Fatalf("after Reload: %v", err)
	}

	// Another source on the same storage loads the renewed certificate
	// without a new order.
	other, err := NewACMESource(&ACMEOptions{
		Domains: []string{name}, CA: p.DirURL, RootCAs: p.APIRoots, StorageDir: src.opts.StorageDir,
		ListenHost: "127.0.0.1", HTTPPort: l.httpPort, DisableTLSALPN01: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Manage(ctx); err != nil {
		t.Fatal(err)
	}
	tc, err := other.GetCertificate(&tls.ClientHelloInfo{ServerName: name})
	if err != nil || !tc.Leaf.Equal(second) {
		t.Fatalf("second source on the same storage: %v", err)
	}
	if d := src.Describe(); !strings.Contains(d, name) || !strings.Contains(d, "reuse_keys=true") {
		t.Errorf("Describe() = %q", d)
	}
	if strings.Contains(logs.String(), "rotate the key") {
		t.Error("pin warning logged although keys are reused")
	}
}

// TestACMETLSALPN01 obtains a certificate with TLS-ALPN-01, serves it, and
// renews it with a new key; the pin warning is logged.
func TestACMETLSALPN01(t *testing.T) {
	t.Parallel()
	const name = "alpn.wssproxy.test"
	src, p, l, logs := newTestACMESource(t, ACMEOptions{
		Domains:        []string{name},
		DisableHTTP01:  true,
		ClientsPinSPKI: true,
	})
	if !strings.Contains(logs.String(), "rotate the key") {
		t.Errorf("no warning for pins with rotating keys:\n%s", logs.String())
	}
	ctx := testpeer.Context(t, 45*time.Second)
	roots, first := manageAndHandshake(ctx, t, src, p, l.tlsAddr, name)
	// Pebble really made the acme-tls/1 handshake with our listener.
	if !strings.Contains(logs.String(), `"challenge":"tls-alpn-01"`) || !strings.Contains(logs.String(), "served key authentication certificate") {
		t.Errorf("no tls-alpn-01 challenge served in the logs:\n%s", logs.String())
	}
	// A client without SNI gets the first domain's certificate.
	noSNI, err := handshakeLeaf(t, l.tlsAddr, nil)
	if err != nil || !noSNI.Equal(first) {
		t.Fatalf("no-SNI handshake: %v", err)
	}

	second := renewAndHandshake(ctx, t, src, l.tlsAddr, name, roots)
	if second.SerialNumber.Cmp(first.SerialNumber) == 0 || tlsconf.SPKIPin(second) == tlsconf.SPKIPin(first) {
		t.Fatal("renewal without ReusePrivateKeys kept the certificate or key")
	}
}

// TestACMEOnDemand issues on demand for an allowed name and refuses names
// outside the allow-list without asking the CA.
func TestACMEOnDemand(t *testing.T) {
	t.Parallel()
	src, p, l, logs := newTestACMESource(t, ACMEOptions{
		OnDemandAllow: []string{"*.ondemand.wssproxy.test", "exact.wssproxy.test"},
	})
	roots := p.IssuingRoots(t)
	leaf, err := verifiedHandshake(t, l.tlsAddr, "a.ondemand.wssproxy.test", roots)
	if err != nil {
		t.Fatalf("allowed on-demand name: %v", err)
	}
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "a.ondemand.wssproxy.test" {
		t.Fatalf("on-demand certificate for %v", leaf.DNSNames)
	}
	for _, name := range []string{"evil.wssproxy.test", "b.c.ondemand.wssproxy.test", "ondemand.wssproxy.test"} {
		if _, err := verifiedHandshake(t, l.tlsAddr, name, roots); err == nil {
			t.Errorf("handshake for %s succeeded", name)
		}
		if !strings.Contains(logs.String(), `"name":"`+name+`"`) {
			t.Errorf("refusal of %s not logged", name)
		}
	}
	if err := src.decide(context.Background(), "evil.wssproxy.test"); !errors.Is(err, ErrOnDemandRefused) {
		t.Fatalf("decide = %v", err)
	}
	// Nothing was stored for refused names.
	var stored bytes.Buffer
	_ = filepath.WalkDir(src.opts.StorageDir, func(path string, _ os.DirEntry, _ error) error {
		stored.WriteString(path + "\n")
		return nil
	})
	if strings.Contains(stored.String(), "evil") {
		t.Fatalf("storage has files for a refused name:\n%s", stored.String())
	}
}

// TestACMEChallengeReallyValidated shows that Pebble validates for real:
// without the HTTP-01 handler on our listener, issuance fails.
func TestACMEChallengeReallyValidated(t *testing.T) {
	t.Parallel()
	src, _, _, _ := newTestACMESourceWiring(t, ACMEOptions{
		Domains:          []string{"unwired.wssproxy.test"},
		DisableTLSALPN01: true,
	}, false)
	err := src.Manage(testpeer.Context(t, 45*time.Second))
	if err == nil {
		t.Fatal("obtained a certificate although nothing answered the HTTP-01 challenge")
	}
	t.Logf("expected failure: %v", err)
}

func TestACMEOptionsValidation(t *testing.T) {
	t.Parallel()
	for _, o := range []*ACMEOptions{
		nil,
		{Domains: []string{"bad name"}},
		{OnDemandAllow: []string{"*"}},
		{Domains: []string{"a.test"}, DisableHTTP01: true, DisableTLSALPN01: true},
	} {
		if s, err := NewACMESource(o); err == nil {
			s.Close()
			t.Errorf("NewACMESource(%+v) succeeded", o)
		}
	}
}

// TestACMEGivenStorage: with ACMEOptions.Storage set, the account and
// certificate go there and nothing into StorageDir; the log line and
// Describe name the storage used.
func TestACMEGivenStorage(t *testing.T) {
	t.Parallel()
	const name = "storage.wssproxy.test"
	given := &certmagic.FileStorage{Path: t.TempDir()}
	src, p, l, logs := newTestACMESource(t, ACMEOptions{
		Domains:          []string{name},
		DisableTLSALPN01: true,
		Storage:          given,
	})
	if err := src.Manage(testpeer.Context(t, 45*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := verifiedHandshake(t, l.tlsAddr, name, p.IssuingRoots(t)); err != nil {
		t.Fatal(err)
	}
	keys, err := given.List(context.Background(), "certificates", true)
	if err != nil || !slices.ContainsFunc(keys, func(k string) bool { return strings.HasSuffix(k, "/"+name+".crt") }) {
		t.Fatalf("certificate not in the given storage: %q, %v", keys, err)
	}
	if entries, err := os.ReadDir(src.opts.StorageDir); err != nil || len(entries) != 0 {
		t.Fatalf("StorageDir used although Storage is set: %v, %v", entries, err)
	}
	want := `"storage":"FileStorage:` + given.Path + `"`
	if !strings.Contains(logs.String(), want) {
		t.Errorf("log line does not name the storage (%s):\n%s", want, logs.String())
	}
	if d := src.Describe(); !strings.Contains(d, "storage=FileStorage:"+given.Path) {
		t.Errorf("Describe() = %q", d)
	}
}
