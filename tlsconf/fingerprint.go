package tlsconf

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
)

// SPKIPin returns the certificate's public-key pin in the curl/HPKP form
// "sha256//<base64 of SHA-256(SubjectPublicKeyInfo DER)>". It equals
//
//	openssl x509 -pubkey -noout | openssl pkey -pubin -outform der |
//	openssl dgst -sha256 -binary | base64
//
// prefixed with "sha256//".
func SPKIPin(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256//" + base64.StdEncoding.EncodeToString(sum[:])
}

// Fingerprint returns the SHA-256 fingerprint of the whole DER certificate
// as lower-case hex without separators, the form used in expected-error
// entries ("self-signed:<fingerprint>") and whole-certificate pins.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}
