package tlsconf

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// PinKind says what a Pin's hash covers.
type PinKind uint8

const (
	// PinSPKI pins the SHA-256 of the certificate's SubjectPublicKeyInfo
	// (the curl --pinnedpubkey and HPKP form). It survives renewals that
	// keep the key.
	PinSPKI PinKind = iota + 1
	// PinCertificate pins the SHA-256 of the whole DER certificate, the
	// value Fingerprint returns and `openssl x509 -fingerprint -sha256`
	// prints.
	PinCertificate
)

// String returns "spki" or "certificate".
func (k PinKind) String() string {
	return enumString(k, "PinKind", []string{PinSPKI: "spki", PinCertificate: "certificate"})
}

// Pin is one pinned SHA-256 hash: of a public key (PinSPKI) or of a whole
// certificate (PinCertificate). The zero Pin matches nothing.
type Pin struct {
	// Kind says whether Sum hashes the public key or the certificate.
	Kind PinKind
	// Sum is the SHA-256 hash.
	Sum [sha256.Size]byte
}

// PinMatch selects which certificates a pin may match.
type PinMatch uint8

const (
	// PinMatchLeaf (the default) matches pins against the peer's leaf
	// certificate only.
	PinMatchLeaf PinMatch = iota
	// PinMatchChain matches pins against any certificate of the chain: the
	// certificates the peer sent and the trusted root the chain leads to.
	// Use it to pin an intermediate or root CA.
	PinMatchChain
)

// Prefixes of the pin forms ParsePin accepts.
const (
	spkiPrefix     = "sha256//"
	spkiPrefix1    = "sha256/"
	spkiHexPrefix  = "spki-sha256:"
	certHexPrefix  = "cert-sha256:"
	errPinSyntaxAt = "tlsconf: pin %q: %s (forms: sha256//<base64 SPKI SHA-256>, sha256/<base64>, <hex SPKI SHA-256>, spki-sha256:<hex>, cert-sha256:<hex certificate SHA-256>)"
)

// ParsePin parses one pin. Accepted forms, with surrounding spaces ignored:
//
//	sha256//<base64>        SPKI SHA-256, the curl/HPKP form (canonical)
//	sha256/<base64>         the same, one slash
//	<hex>                   SPKI SHA-256 as 64 hex digits, colons allowed
//	spki-sha256:<hex>       the same, explicit
//	cert-sha256:<hex>       whole-certificate SHA-256 (Fingerprint, or
//	                        openssl x509 -fingerprint -sha256), colons allowed
//
// Base64 is standard base64 with padding (44 characters); hex is case
// insensitive. Bare hex always means a public-key (SPKI) pin, matching the
// curl form; a whole-certificate pin must carry the cert-sha256: prefix so
// the two can never be confused.
func ParsePin(s string) (Pin, error) {
	t := strings.TrimSpace(s)
	switch {
	case hasPrefixFold(t, certHexPrefix):
		sum, err := parseHexSum(t[len(certHexPrefix):])
		if err != nil {
			return Pin{}, fmt.Errorf(errPinSyntaxAt, s, err)
		}
		return Pin{Kind: PinCertificate, Sum: sum}, nil
	case hasPrefixFold(t, spkiHexPrefix):
		sum, err := parseHexSum(t[len(spkiHexPrefix):])
		if err != nil {
			return Pin{}, fmt.Errorf(errPinSyntaxAt, s, err)
		}
		return Pin{Kind: PinSPKI, Sum: sum}, nil
	case hasPrefixFold(t, spkiPrefix1):
		// A base64 SHA-256 may itself start with '/', so the two-slash form
		// is chosen by length, not by prefix alone.
		b64 := t[len(spkiPrefix1):]
		if hasPrefixFold(t, spkiPrefix) && len(t)-len(spkiPrefix) == base64.StdEncoding.EncodedLen(sha256.Size) {
			b64 = t[len(spkiPrefix):]
		}
		sum, err := parseBase64Sum(b64)
		if err != nil {
			return Pin{}, fmt.Errorf(errPinSyntaxAt, s, err)
		}
		return Pin{Kind: PinSPKI, Sum: sum}, nil
	case t == "":
		return Pin{}, fmt.Errorf(errPinSyntaxAt, s, "empty")
	default:
		sum, err := parseHexSum(t)
		if err != nil {
			return Pin{}, fmt.Errorf(errPinSyntaxAt, s, err)
		}
		return Pin{Kind: PinSPKI, Sum: sum}, nil
	}
}

// hasPrefixFold reports whether s starts with the ASCII prefix, ignoring
// case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func parseBase64Sum(s string) (sum [sha256.Size]byte, err error) {
	if len(s) != base64.StdEncoding.EncodedLen(sha256.Size) {
		return sum, fmt.Errorf("base64 part has %d characters, want %d", len(s), base64.StdEncoding.EncodedLen(sha256.Size))
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return sum, errors.New("base64 part is not a base64-encoded SHA-256")
	}
	copy(sum[:], b)
	return sum, nil
}

func parseHexSum(s string) (sum [sha256.Size]byte, err error) {
	h := strings.ReplaceAll(s, ":", "")
	if len(h) != hex.EncodedLen(sha256.Size) {
		return sum, fmt.Errorf("hex part has %d digits, want %d", len(h), hex.EncodedLen(sha256.Size))
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return sum, errors.New("hex part has a non-hex character")
	}
	copy(sum[:], b)
	return sum, nil
}

// String returns the canonical form: "sha256//<base64>" for an SPKI pin
// (as SPKIPin prints it) and "cert-sha256:<lower hex>" for a
// whole-certificate pin. ParsePin(p.String()) returns p.
func (p Pin) String() string {
	switch p.Kind {
	case PinSPKI:
		return spkiPrefix + base64.StdEncoding.EncodeToString(p.Sum[:])
	case PinCertificate:
		return certHexPrefix + hex.EncodeToString(p.Sum[:])
	}
	return "invalid-pin"
}

// MarshalText implements encoding.TextMarshaler with String's form.
func (p Pin) MarshalText() ([]byte, error) {
	if p.Kind != PinSPKI && p.Kind != PinCertificate {
		return nil, errors.New("tlsconf: invalid pin")
	}
	return []byte(p.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler; see ParsePin.
func (p *Pin) UnmarshalText(b []byte) error { return unmarshalText(p, b, ParsePin) }

// SPKIPinOf returns the public-key pin of cert.
func SPKIPinOf(cert *x509.Certificate) Pin {
	return Pin{Kind: PinSPKI, Sum: sha256.Sum256(cert.RawSubjectPublicKeyInfo)}
}

// CertificatePinOf returns the whole-certificate pin of cert.
func CertificatePinOf(cert *x509.Certificate) Pin {
	return Pin{Kind: PinCertificate, Sum: sha256.Sum256(cert.Raw)}
}

// Matches reports whether cert matches p. The hashes are compared in
// constant time.
func (p Pin) Matches(cert *x509.Certificate) bool {
	if cert == nil {
		return false
	}
	var got [sha256.Size]byte
	switch p.Kind {
	case PinSPKI:
		got = sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	case PinCertificate:
		got = sha256.Sum256(cert.Raw)
	default:
		return false
	}
	return subtle.ConstantTimeCompare(got[:], p.Sum[:]) == 1
}

// ParsePins parses each string with ParsePin and stops at the first error.
func ParsePins(ss []string) ([]Pin, error) { return parseEach(ss, ParsePin) }

// PinsFromPEM returns one pin of the given kind per CERTIFICATE block in
// data. "PUBLIC KEY" blocks (as `openssl pkey -pubout` writes) always give
// SPKI pins. Other blocks are skipped; no pin at all is an error.
func PinsFromPEM(data []byte, kind PinKind) ([]Pin, error) {
	if kind != PinSPKI && kind != PinCertificate {
		return nil, fmt.Errorf("tlsconf: invalid pin kind %d", uint8(kind))
	}
	var pins []Pin
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		switch block.Type {
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("tlsconf: pin PEM: %w", err)
			}
			if kind == PinSPKI {
				pins = append(pins, SPKIPinOf(cert))
			} else {
				pins = append(pins, CertificatePinOf(cert))
			}
		case "PUBLIC KEY":
			if _, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil {
				return nil, fmt.Errorf("tlsconf: pin PEM: %w", err)
			}
			pins = append(pins, Pin{Kind: PinSPKI, Sum: sha256.Sum256(block.Bytes)})
		}
	}
	if len(pins) == 0 {
		return nil, errors.New("tlsconf: pin PEM: no CERTIFICATE or PUBLIC KEY block")
	}
	return pins, nil
}

// LoadPinFile reads a PEM file and returns its pins; see PinsFromPEM.
func LoadPinFile(path string, kind PinKind) ([]Pin, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: %w", err)
	}
	pins, err := PinsFromPEM(data, kind)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return pins, nil
}

func pinStrings(pins []Pin) string {
	s := make([]string, len(pins))
	for i, p := range pins {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}
