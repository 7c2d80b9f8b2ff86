package tlsconf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// testCert is a generated certificate with its key.
type testCert struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// certSpec describes a certificate to generate; zero fields take defaults.
type certSpec struct {
	cn        string
	ca        bool
	noBC      bool // no basic constraints extension at all
	maxPath   int  // -1 unset; 0 with ca means pathlen:0
	notBefore time.Time
	notAfter  time.Time
	dns       []string
	ips       []net.IP
	eku       []x509.ExtKeyUsage
	permitted []string // permitted DNS name constraints
}

var serial struct {
	mu sync.Mutex
	n  int64
}

func nextSerial() *big.Int {
	serial.mu.Lock()
	defer serial.mu.Unlock()
	serial.n++
	return big.NewInt(serial.n + time.Now().UnixNano()%1e9*1000)
}

// newCert creates a certificate for spec, signed by parent (self-signed if
// parent is nil).
func newCert(t testing.TB, spec certSpec, parent *testCert) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkix.Name{CommonName: spec.cn, Organization: []string{"wssproxy test"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		DNSNames:     spec.dns,
		IPAddresses:  spec.ips,
		ExtKeyUsage:  spec.eku,
	}
	if !spec.notBefore.IsZero() {
		tmpl.NotBefore = spec.notBefore
	}
	if !spec.notAfter.IsZero() {
		tmpl.NotAfter = spec.notAfter
	}
	if spec.ca {
		tmpl.IsCA = true
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
		tmpl.MaxPathLen = spec.maxPath
		tmpl.MaxPathLenZero = spec.maxPath == 0
		tmpl.PermittedDNSDomains = spec.permitted
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.BasicConstraintsValid = !spec.noBC
		if spec.eku == nil {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		}
	}
	signer, issuer := crypto.Signer(key), tmpl
	if parent != nil {
		signer, issuer = parent.key, parent.cert
	}
	return &testCert{cert: testpeer.CreateCertificate(t, tmpl, issuer, key.Public(), signer), key: key}
}

func caSpec(cn string) certSpec { return certSpec{cn: cn, ca: true, maxPath: -1} }

func leafSpec(names ...string) certSpec {
	s := certSpec{cn: "leaf " + strings.Join(names, ","), maxPath: -1}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			s.ips = append(s.ips, ip)
		} else {
			s.dns = append(s.dns, n)
		}
	}
	return s
}

// tamper returns a copy of c whose signature no longer verifies.
func tamper(t testing.TB, c *testCert) *testCert {
	t.Helper()
	der := append([]byte(nil), c.cert.Raw...)
	der[len(der)-1] ^= 0x01 // last byte of the ECDSA s value
	bad, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCert{cert: bad, key: c.key}
}

func certsOf(cs ...*testCert) []*x509.Certificate {
	out := make([]*x509.Certificate, len(cs))
	for i, c := range cs {
		out[i] = c.cert
	}
	return out
}

func pool(cs ...*testCert) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range cs {
		p.AddCert(c.cert)
	}
	return p
}

// tlsCert makes a tls.Certificate that serves chain (leaf first) with the
// leaf's key.
func tlsCert(chain ...*testCert) tls.Certificate {
	var tc tls.Certificate
	for _, c := range chain {
		tc.Certificate = append(tc.Certificate, c.cert.Raw)
	}
	tc.PrivateKey = chain[0].key
	return tc
}

func pemOf(cs ...*x509.Certificate) []byte {
	var b []byte
	for _, c := range cs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return b
}

func writePEM(t testing.TB, dir, name string, cs ...*x509.Certificate) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pemOf(cs...), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeKey(t testing.TB, dir, name string, key crypto.Signer) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// server is a TLS listener on 127.0.0.1 that handshakes every connection
// with cfg and records the server-side handshake errors.
type server struct {
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
}

func startServer(t testing.TB, cfg *tls.Config) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				tc := tls.Server(c, cfg)
				err := tc.Handshake()
				if err == nil {
					// Let the client finish reading; then close.
					var b [1]byte
					_, _ = tc.Read(b[:])
				}
				s.mu.Lock()
				s.errs = append(s.errs, err)
				s.mu.Unlock()
				_ = tc.Close()
			}()
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *server) addr() string { return s.ln.Addr().String() }

func (s *server) close() {
	_ = s.ln.Close()
	s.wg.Wait()
}

// serveChain starts a server presenting chain.
func serveChain(t testing.TB, chain ...*testCert) *server {
	t.Helper()
	return startServer(t, &tls.Config{Certificates: []tls.Certificate{tlsCert(chain...)}})
}
