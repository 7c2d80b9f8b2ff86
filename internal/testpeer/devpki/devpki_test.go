package devpki

import (
	"crypto/x509"
	"testing"

	"go.uber.org/goleak"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The leaf New makes is what Certificate loads, and it verifies for
// localhost and 127.0.0.1 against the CA New wrote.
func TestNewAndCertificate(t *testing.T) {
	r := New(t)
	c := Certificate(t, r)
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	roots := testpeer.CertPool(t, r.CACertFile)
	for _, name := range []string{"localhost", "127.0.0.1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
