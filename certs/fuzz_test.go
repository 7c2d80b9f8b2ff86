package certs

import (
	"testing"
	"time"
)

// FuzzKeyPair feeds arbitrary certificate and key files to the loader: it
// must return an error or a matching pair, never panic.
func FuzzKeyPair(f *testing.F) {
	tc := newTestCert(f, "ecdsa", "fuzz", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	f.Add(tc.certPEM, tc.keyPEM)
	f.Add(tc.keyPEM, tc.certPEM)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		c, err := keyPair(certPEM, keyPEM, "cert", "key")
		if err != nil {
			return
		}
		if c.Leaf == nil || len(c.Certificate) == 0 || c.PrivateKey == nil {
			t.Fatalf("incomplete pair without error: %+v", c)
		}
		if _, err := SummarizePEM(certPEM); err != nil {
			t.Fatalf("keyPair accepted what SummarizePEM rejects: %v", err)
		}
	})
}
