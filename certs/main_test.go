package certs

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// certmagic keeps one rate limiter per ACME directory and account
		// in a package-level map for the life of the process; its loop
		// goroutine is never stopped (certmagic ratelimiter.go TODO).
		goleak.IgnoreAnyFunction("github.com/caddyserver/certmagic.(*RingBufferRateLimiter).loop"),
		// certmagic's file-storage lock keeper polls every 5 s and exits
		// at the first poll after the lock file is removed, so it
		// outlives a released lock by up to 5 s.
		goleak.IgnoreAnyFunction("github.com/caddyserver/certmagic.keepLockfileFresh"),
	)
}

// testCert is a self-signed certificate with its PEM encodings.
type testCert struct {
	cert            *x509.Certificate
	certPEM, keyPEM []byte
}

// newTestCert makes a self-signed certificate for localhost/127.0.0.1 with
// the given key type ("rsa", "ecdsa", "ed25519"), common name and validity.
func newTestCert(t testing.TB, keyType, cn string, notBefore, notAfter time.Time) testCert {
	t.Helper()
	var key crypto.Signer
	var err error
	switch keyType {
	case "rsa":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ecdsa":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ed25519":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("unknown key type %q", keyType)
	}
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	c := testpeer.CreateCertificate(t, tmpl, tmpl, key.Public(), key)
	var keyPEM []byte
	if k, ok := key.(*rsa.PrivateKey); ok {
		// PKCS #1, to cover the "RSA PRIVATE KEY" form too.
		keyPEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	} else if k, ok := key.(*ecdsa.PrivateKey); ok {
		b, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: b})
	} else {
		b, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b})
	}
	return testCert{
		cert:    c,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}),
		keyPEM:  keyPEM,
	}
}

func validCert(t testing.TB, keyType, cn string) testCert {
	return newTestCert(t, keyType, cn, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

// writeFile writes data to name through a temporary file and a rename, the
// way deployment tools replace certificates.
func writeFile(t testing.TB, name string, data []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(name), "."+filepath.Base(name)+".new")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, name); err != nil {
		t.Fatal(err)
	}
}

// serveTLS runs a TLS listener on 127.0.0.1 that completes handshakes and
// closes each connection; it stops at cleanup. It returns the address.
func serveTLS(t testing.TB, cfg *tls.Config) string {
	t.Helper()
	return testpeer.ServeTLS(t, cfg)
}

// handshakeLeaf connects to addr and returns the leaf the server presents,
// without verifying it (tests compare it themselves).
func handshakeLeaf(t testing.TB, addr string, cfg *tls.Config) (*x509.Certificate, error) {
	t.Helper()
	if cfg == nil {
		cfg = &tls.Config{InsecureSkipVerify: true} // the test compares the leaf itself
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := tls.Dialer{Config: cfg}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	st := c.(*tls.Conn).ConnectionState()
	if len(st.PeerCertificates) == 0 {
		return nil, errors.New("no peer certificate")
	}
	return st.PeerCertificates[0], nil
}

// eventually retries f until it returns true or d passes.
func eventually(t testing.TB, d time.Duration, what string, f func() bool) {
	t.Helper()
	testpeer.WaitFor(t, d, what, f)
}
