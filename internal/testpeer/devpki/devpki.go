// Package devpki gives tests a development CA and leaf made by
// certs.DevCA. It stands apart from testpeer because certs' own tests
// import testpeer.
package devpki

import (
	"crypto/tls"
	"testing"

	"github.com/wssproxy/wssproxy/certs"
)

// New creates a development CA and a leaf (for localhost, 127.0.0.1 and
// ::1, usable by servers and clients) in a temporary directory of t.
func New(t testing.TB) *certs.DevCAResult {
	t.Helper()
	r, err := certs.DevCA(&certs.DevCAOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Certificate loads r's leaf and key.
func Certificate(t testing.TB, r *certs.DevCAResult) tls.Certificate {
	t.Helper()
	c, err := tls.LoadX509KeyPair(r.CertFile, r.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
