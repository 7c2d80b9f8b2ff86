package testpeer

import (
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

// TestPEMPool: the pool trusts the PEM's certificate, and data without
// one fails the test with a message naming it.
func TestPEMPool(t *testing.T) {
	cert, _ := SelfSigned(t, "pool.test")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Leaf.Raw})
	pool := PEMPool(t, "the test CA", data)
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "pool.test"}); err != nil {
		t.Fatalf("the pool does not trust the certificate: %v", err)
	}
	f := &fatalTB{TB: t, failed: make(chan string, 1)}
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		PEMPool(f, "not.pem", []byte("no PEM here"))
		f.failed <- "PEMPool returned a pool of nothing"
	}()
	<-returned
	if msg := <-f.failed; msg != `not.pem: no certificate in "no PEM here"` {
		t.Fatalf("failure %q", msg)
	}
}

// TestP256Key: each key is a new P-256 key.
func TestP256Key(t *testing.T) {
	a, b := P256Key(t), P256Key(t)
	if a.Curve != elliptic.P256() || a.Equal(b) {
		t.Fatalf("keys on %v, equal: %v", a.Curve.Params().Name, a.Equal(b))
	}
}
