package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/wssproxy/wssproxy/tlsconf"
)

// Errors reported when loading a certificate and key. They are wrapped
// with the file names involved; test for them with errors.Is. Unreadable
// files are reported with the underlying *fs.PathError (errors.Is with
// fs.ErrNotExist or fs.ErrPermission works).
var (
	// ErrNoCertificate means the certificate file holds no CERTIFICATE
	// PEM block.
	ErrNoCertificate = errors.New("certs: no certificate found")
	// ErrNoPrivateKey means the key file holds no private key PEM block.
	ErrNoPrivateKey = errors.New("certs: no private key found")
	// ErrKeyMismatch means the private key is not the one for the leaf
	// certificate's public key.
	ErrKeyMismatch = errors.New("certs: private key does not match the certificate's public key")
	// ErrUnsupportedKey means the private key is not RSA, ECDSA or Ed25519,
	// or is encrypted.
	ErrUnsupportedKey = errors.New("certs: unsupported private key")
)

// parseCertificates returns every CERTIFICATE block of data, leaf first as
// written in the file (tlsconf.ParseCertificates), and ErrNoCertificate
// when there is none.
func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	chain, err := tlsconf.ParseCertificates(data)
	if errors.Is(err, tlsconf.ErrNoCertificate) {
		return nil, ErrNoCertificate
	}
	return chain, err
}

// parsePrivateKey returns the first private key in data: PKCS #8
// ("PRIVATE KEY"), PKCS #1 ("RSA PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY").
func parsePrivateKey(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, ErrNoPrivateKey
		}
		var (
			k   any
			err error
		)
		switch b.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("%w: encrypted keys are not supported", ErrUnsupportedKey)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("certs: %s: %w", b.Type, err)
		}
		switch k := k.(type) {
		case *rsa.PrivateKey:
			return k, nil
		case *ecdsa.PrivateKey:
			return k, nil
		case ed25519.PrivateKey:
			return k, nil
		default:
			return nil, fmt.Errorf("%w: %T", ErrUnsupportedKey, k)
		}
	}
}

// keyPair builds a tls.Certificate from PEM data and checks that the key
// belongs to the leaf. certName and keyName name the data's origin in
// errors.
func keyPair(certPEM, keyPEM []byte, certName, keyName string) (*tls.Certificate, error) {
	chain, err := parseCertificates(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%w in %s", err, certName)
	}
	key, err := parsePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%w in %s", err, keyName)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(chain[0].PublicKey) {
		return nil, fmt.Errorf("%w (certificate %s, key %s)", ErrKeyMismatch, certName, keyName)
	}
	tc := &tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		tc.Certificate = append(tc.Certificate, c.Raw)
	}
	return tc, nil
}
