package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/internal/privatefile"
	"github.com/wssproxy/wssproxy/tlsconf"
)

// Defaults of [DevCAOptions].
const (
	// DefaultDevLeafValidity is the validity of a dev CA leaf. A leaf is
	// reissued when less than a third of it remains.
	DefaultDevLeafValidity = 30 * 24 * time.Hour
	// DefaultDevCAValidity is the validity of a new dev CA.
	DefaultDevCAValidity = 10 * 365 * 24 * time.Hour
)

// File names inside a dev CA directory.
const (
	DevCACertName = "ca.pem"     // the CA certificate: trust this one
	DevCAKeyName  = "ca-key.pem" // the CA private key, mode 0600
	DevCertName   = "cert.pem"   // the leaf certificate
	DevKeyName    = "key.pem"    // the leaf private key, mode 0600
)

const (
	devCADirName = "devca"            // under StateDir()
	serialBits   = 128                // size of random serial numbers
	devClockSkew = -time.Hour         // NotBefore offset, for clocks running behind
	devFileMode  = fs.FileMode(0o644) // certificates; keys get 0600
)

// DevCAOptions configures [DevCA]. The zero value (or nil) is valid.
type DevCAOptions struct {
	// Dir is where the CA and leaf live. Empty means StateDir()/devca.
	Dir string
	// Hosts are names and IP addresses the leaf covers besides localhost,
	// 127.0.0.1 and ::1.
	Hosts []string
	// LeafValidity is the leaf's validity; zero means
	// DefaultDevLeafValidity.
	LeafValidity time.Duration
	// CAValidity is the validity of a newly created CA; zero means
	// DefaultDevCAValidity.
	CAValidity time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives what was created or reused. The zero value logs
	// nothing.
	Logger zerolog.Logger
}

// DevCAResult says where a dev CA and its leaf are and what the leaf is.
type DevCAResult struct {
	Dir        string // the directory holding the files below
	CACertFile string // CA certificate (PEM); add it to the clients' trust store
	CAKeyFile  string // CA private key (PEM, mode 0600)
	CertFile   string // leaf certificate (PEM); serve it with KeyFile
	KeyFile    string // leaf private key (PEM, mode 0600)

	Hosts       []string  // DNS names and IP addresses the leaf covers
	NotAfter    time.Time // leaf expiry
	SPKIPin     string    // leaf SPKI pin, "sha256//<base64>"
	Fingerprint string    // leaf SHA-256 fingerprint, lower-case hex
	CAPin       string    // CA SPKI pin

	CreatedCA  bool // the CA was created by this call
	IssuedLeaf bool // the leaf was (re)issued by this call
}

// DevCA makes sure Dir holds a local development CA (ECDSA P-256) and a
// leaf signed by it for localhost, 127.0.0.1, ::1 and opts.Hosts, and
// returns where they are.
//
// The CA is created once and reused on later calls, so clients only need
// to trust it once. The leaf is reused while it covers every requested
// host, verifies against the CA and has more than a third of its validity
// left; otherwise a new leaf (with a new key) is issued. An expired CA is
// replaced; a CA that cannot be read or parsed is an error, never silently
// overwritten. Keys are written with mode 0600, the directory with 0700,
// each file atomically.
//
// The CA can sign certificates for any name: keep its key private, and use
// it for development only.
func DevCA(opts *DevCAOptions) (*DevCAResult, error) {
	var o DevCAOptions
	if opts != nil {
		o = *opts
		o.Hosts = slices.Clone(opts.Hosts)
	}
	if o.LeafValidity <= 0 {
		o.LeafValidity = DefaultDevLeafValidity
	}
	if o.CAValidity <= 0 {
		o.CAValidity = DefaultDevCAValidity
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Dir == "" {
		sd, err := StateDir()
		if err != nil {
			return nil, err
		}
		o.Dir = filepath.Join(sd, devCADirName)
	}
	hosts, err := devHosts(o.Hosts)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("certs: dev CA dir: %w", err)
	}
	r := &DevCAResult{
		Dir:        o.Dir,
		CACertFile: filepath.Join(o.Dir, DevCACertName),
		CAKeyFile:  filepath.Join(o.Dir, DevCAKeyName),
		CertFile:   filepath.Join(o.Dir, DevCertName),
		KeyFile:    filepath.Join(o.Dir, DevKeyName),
		Hosts:      hosts,
	}
	now := o.Now()
	log := o.Logger.With().Str("dir", o.Dir).Logger()

	ca, caKey, err := loadDevCA(r.CACertFile, r.CAKeyFile, now)
	if err != nil {
		return nil, err
	}
	if ca == nil {
		if ca, caKey, err = createDevCA(r.CACertFile, r.CAKeyFile, now, o.CAValidity); err != nil {
			return nil, err
		}
		r.CreatedCA = true
		log.Info().Str("ca", r.CACertFile).Msg("certs: created dev CA")
	}
	r.CAPin = tlsconf.SPKIPin(ca)

	leaf := reusableLeaf(r.CertFile, r.KeyFile, ca, hosts, now, o.LeafValidity)
	if leaf == nil {
		if leaf, err = issueDevLeaf(r.CertFile, r.KeyFile, ca, caKey, hosts, now, o.LeafValidity); err != nil {
			return nil, err
		}
		r.IssuedLeaf = true
		log.Info().Str("cert", r.CertFile).Strs("hosts", hosts).Time("not_after", leaf.NotAfter).
			Msg("certs: issued dev leaf certificate")
	}
	r.NotAfter = leaf.NotAfter
	r.SPKIPin = tlsconf.SPKIPin(leaf)
	r.Fingerprint = tlsconf.Fingerprint(leaf)
	return r, nil
}

// devHosts returns the default hosts plus extra, deduplicated, with IP
// addresses in canonical form.
func devHosts(extra []string) ([]string, error) {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	for _, h := range extra {
		h = strings.TrimSpace(strings.ToLower(h))
		if ip := net.ParseIP(h); ip != nil {
			h = ip.String()
		} else if h == "" || strings.ContainsAny(h, " /:@\\") {
			return nil, fmt.Errorf("certs: dev CA: invalid host name %q", h)
		}
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return hosts, nil
}

// loadDevCA returns the CA in certFile/keyFile, or nils when neither file
// exists or the CA has expired (it is then replaced).
func loadDevCA(certFile, keyFile string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, cerr := os.ReadFile(certFile)
	keyPEM, kerr := os.ReadFile(keyFile)
	if errors.Is(cerr, fs.ErrNotExist) && errors.Is(kerr, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if cerr != nil {
		return nil, nil, fmt.Errorf("certs: dev CA certificate: %w", cerr)
	}
	if kerr != nil {
		return nil, nil, fmt.Errorf("certs: dev CA key: %w", kerr)
	}
	tc, err := keyPair(certPEM, keyPEM, certFile, keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: dev CA: %w", err)
	}
	key, ok := tc.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || !tc.Leaf.IsCA {
		return nil, nil, fmt.Errorf("certs: dev CA in %s is not an ECDSA CA certificate", filepath.Dir(certFile))
	}
	if now.After(tc.Leaf.NotAfter) {
		return nil, nil, nil
	}
	return tc.Leaf, key, nil
}

func createDevCA(certFile, keyFile string, now time.Time, validity time.Duration) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: dev CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization: []string{"wssproxy development CA"},
			CommonName:   "wssproxy dev CA " + host + " " + serial.Text(16)[:8],
		},
		NotBefore:             now.Add(devClockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: dev CA: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: dev CA: %w", err)
	}
	if err := writeKeyAndCert(certFile, keyFile, der, key); err != nil {
		return nil, nil, err
	}
	return ca, key, nil
}

// reusableLeaf returns the leaf in certFile/keyFile when it can be kept:
// it matches its key, chains to ca for every host, and more than a third
// of its validity is left.
func reusableLeaf(certFile, keyFile string, ca *x509.Certificate, hosts []string, now time.Time, validity time.Duration) *x509.Certificate {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil
	}
	tc, err := keyPair(certPEM, keyPEM, certFile, keyFile)
	if err != nil {
		return nil
	}
	leaf := tc.Leaf
	if leaf.NotAfter.Sub(now) < validity/3 {
		return nil
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, h := range hosts {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: h, Roots: roots, CurrentTime: now}); err != nil {
			return nil
		}
	}
	return leaf
}

func issueDevLeaf(certFile, keyFile string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, hosts []string, now time.Time, validity time.Duration) (*x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certs: dev leaf key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization: []string{"wssproxy development certificate"},
			CommonName:   hosts[0],
		},
		NotBefore:             now.Add(devClockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("certs: dev leaf: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certs: dev leaf: %w", err)
	}
	if err := writeKeyAndCert(certFile, keyFile, der, key); err != nil {
		return nil, err
	}
	return leaf, nil
}

func randomSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), serialBits))
	if err != nil {
		return nil, fmt.Errorf("certs: serial number: %w", err)
	}
	return s, nil
}

// writeKeyAndCert writes the key (0600) and then the certificate, each
// atomically.
func writeKeyAndCert(certFile, keyFile string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("certs: marshal key: %w", err)
	}
	if err := privatefile.WriteAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return fmt.Errorf("certs: write %s: %w", keyFile, err)
	}
	if err := privatefile.WriteAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), devFileMode); err != nil {
		return fmt.Errorf("certs: write %s: %w", certFile, err)
	}
	return nil
}
