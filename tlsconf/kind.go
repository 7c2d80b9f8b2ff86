package tlsconf

import (
	"fmt"
	"strings"
)

// ErrorKind names one class of TLS certificate problem. The kebab-case
// names returned by String are stable: they appear in configuration files,
// command-line flags (--ignore-ssl-error KIND), logs, the admin API and
// metrics. New kinds are only ever appended.
//
// The numeric order of the kinds is also the order in which Verify reports
// errors (see Verify).
type ErrorKind uint8

// The error kinds. The zero value is not a valid kind.
const (
	// UnknownAuthority: the chain does not lead to a trusted root; the
	// issuer of the top certificate is missing (OpenSSL errors 2 and 20).
	UnknownAuthority ErrorKind = iota + 1
	// UntrustedRoot: the chain ends in a trusted root that may not anchor
	// this purpose, because the root's extended key usage excludes it
	// (OpenSSL error 27, Qt CertificateUntrusted).
	UntrustedRoot
	// SelfSigned: the leaf is self-signed and not trusted (OpenSSL 18).
	SelfSigned
	// SelfSignedInChain: the chain ends in a self-signed certificate sent
	// by the peer that is not trusted (OpenSSL 19).
	SelfSignedInChain
	// Expired: a certificate of the chain is past its NotAfter (OpenSSL 10).
	Expired
	// NotYetValid: a certificate of the chain is before its NotBefore
	// (OpenSSL 9).
	NotYetValid
	// HostnameMismatch: the leaf is not valid for the expected host name
	// or IP address (OpenSSL 62).
	HostnameMismatch
	// InvalidPurpose: a certificate may not be used for this purpose: its
	// extended key usage excludes server (or client) authentication, or an
	// issuing certificate is not a CA (OpenSSL 26 and 24).
	InvalidPurpose
	// SignatureFailure: a certificate's signature does not verify with its
	// issuer's key, or uses an insecure algorithm (OpenSSL 7).
	SignatureFailure
	// PathLengthExceeded: a CA's path length constraint is violated
	// (OpenSSL 25).
	PathLengthExceeded
	// NameConstraints: the leaf's names violate a CA's name constraints
	// (OpenSSL 47, 48, 49, 51).
	NameConstraints
	// NoPeerCertificate: the peer sent no certificate.
	NoPeerCertificate
	// PinMismatch: no certificate matched the configured pins. A pin
	// mismatch can never be ignored.
	PinMismatch
)

var kindNames = [...]string{
	UnknownAuthority:   "unknown-authority",
	UntrustedRoot:      "untrusted-root",
	SelfSigned:         "self-signed",
	SelfSignedInChain:  "self-signed-in-chain",
	Expired:            "expired",
	NotYetValid:        "not-yet-valid",
	HostnameMismatch:   "hostname-mismatch",
	InvalidPurpose:     "invalid-purpose",
	SignatureFailure:   "signature-failure",
	PathLengthExceeded: "path-length-exceeded",
	NameConstraints:    "name-constraints",
	NoPeerCertificate:  "no-peer-certificate",
	PinMismatch:        "pin-mismatch",
}

// ErrorKinds returns every defined kind in report order.
func ErrorKinds() []ErrorKind {
	out := make([]ErrorKind, 0, len(kindNames)-1)
	for k := UnknownAuthority; int(k) < len(kindNames); k++ {
		out = append(out, k)
	}
	return out
}

// Valid reports whether k is a defined kind.
func (k ErrorKind) Valid() bool { return k > 0 && int(k) < len(kindNames) }

// Ignorable reports whether an ignore policy or a resume may accept an
// error of this kind. Only PinMismatch is never ignorable.
func (k ErrorKind) Ignorable() bool { return k != PinMismatch }

// String returns the kebab-case name, or "ErrorKind(N)" for an undefined
// value.
func (k ErrorKind) String() string {
	return enumString(k, "ErrorKind", kindNames[:])
}

// MarshalText implements encoding.TextMarshaler with the kebab-case name.
// It fails for an undefined kind.
func (k ErrorKind) MarshalText() ([]byte, error) {
	if !k.Valid() {
		return nil, fmt.Errorf("tlsconf: invalid error kind %d", uint8(k))
	}
	return []byte(kindNames[k]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler; see ParseErrorKind.
func (k *ErrorKind) UnmarshalText(b []byte) error { return unmarshalText(k, b, ParseErrorKind) }

// ParseErrorKind parses a kebab-case kind name. Matching is exact except
// for surrounding spaces and letter case.
func ParseErrorKind(s string) (ErrorKind, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for k := UnknownAuthority; int(k) < len(kindNames); k++ {
		if kindNames[k] == t {
			return k, nil
		}
	}
	return 0, fmt.Errorf("tlsconf: unknown error kind %q (want one of %s)", s, kindList())
}

func kindList() string {
	names := make([]string, 0, len(kindNames)-1)
	for _, k := range ErrorKinds() {
		names = append(names, k.String())
	}
	return strings.Join(names, ", ")
}
