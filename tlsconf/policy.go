package tlsconf

import (
	"fmt"
	"strings"
)

// ExpectedError is one entry of an ignore list: errors of Kind are
// accepted, for any certificate when Fingerprint is empty, or only for the
// certificate whose SHA-256 fingerprint (see Fingerprint) it names. It is
// Qt's QSslError(error, certificate) used with ignoreSslErrors(list).
type ExpectedError struct {
	Kind ErrorKind
	// Fingerprint is the lower-case hex SHA-256 of the DER certificate,
	// without colons, or "" for any certificate.
	Fingerprint string
}

// ParseExpectedError parses "KIND" or "KIND:SHA256", where KIND is a
// kebab-case kind name (see ErrorKind) and SHA256 the certificate's SHA-256
// fingerprint in hex: 64 digits, any case, colons between bytes optional
// (the output of `openssl x509 -fingerprint -sha256` after the '=' works
// as is). pin-mismatch is refused: it can never be ignored.
func ParseExpectedError(s string) (ExpectedError, error) {
	t := strings.TrimSpace(s)
	kindPart, fp, hasFP := strings.Cut(t, ":")
	k, err := ParseErrorKind(kindPart)
	if err != nil {
		return ExpectedError{}, fmt.Errorf("tlsconf: expected error %q: %w", s, err)
	}
	if !k.Ignorable() {
		return ExpectedError{}, fmt.Errorf("tlsconf: expected error %q: %s can never be ignored", s, k)
	}
	e := ExpectedError{Kind: k}
	if hasFP {
		sum, err := parseHexSum(strings.TrimSpace(fp))
		if err != nil {
			return ExpectedError{}, fmt.Errorf("tlsconf: expected error %q: certificate fingerprint: %s", s, err)
		}
		e.Fingerprint = fmt.Sprintf("%x", sum[:])
	}
	return e, nil
}

// String returns "KIND" or "KIND:<lower hex fingerprint>", the form
// ParseExpectedError reads.
func (e ExpectedError) String() string {
	if e.Fingerprint == "" {
		return e.Kind.String()
	}
	return e.Kind.String() + ":" + e.Fingerprint
}

// MarshalText implements encoding.TextMarshaler with String's form.
func (e ExpectedError) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; see ParseExpectedError.
func (e *ExpectedError) UnmarshalText(b []byte) error { return unmarshalText(e, b, ParseExpectedError) }

// Covers reports whether e accepts err: same kind, ignorable, and either
// no fingerprint or the fingerprint of err's certificate.
func (e ExpectedError) Covers(err SSLError) bool {
	if e.Kind != err.Kind || !err.Kind.Ignorable() {
		return false
	}
	if e.Fingerprint == "" {
		return true
	}
	return err.Cert != nil && strings.EqualFold(strings.ReplaceAll(e.Fingerprint, ":", ""), Fingerprint(err.Cert))
}

// IgnoreMode selects how an IgnorePolicy treats errors.
type IgnoreMode uint8

const (
	// IgnoreNone (the default) fails on any error.
	IgnoreNone IgnoreMode = iota
	// IgnoreListed accepts only the errors an entry of the Expected list
	// covers.
	IgnoreListed
	// IgnoreAll accepts every error except pin-mismatch. It is insecure
	// and logged at warn level on every connection.
	IgnoreAll
)

// String returns "none", "list" or "all".
func (m IgnoreMode) String() string {
	return enumString(m, "IgnoreMode", []string{IgnoreNone: "none", IgnoreListed: "list", IgnoreAll: "all"})
}

// IgnorePolicy decides which SSL errors a handshake may proceed with. The
// zero value ignores nothing. Pin mismatches are never ignored.
type IgnorePolicy struct {
	Mode IgnoreMode
	// Expected is the accepted list in IgnoreListed mode.
	Expected []ExpectedError
}

// ParseIgnorePolicy parses "none" (or ""), "all", or a comma- or
// space-separated list of expected errors in ParseExpectedError's form,
// e.g. "self-signed:ab12…,hostname-mismatch".
func ParseIgnorePolicy(s string) (IgnorePolicy, error) {
	t := strings.TrimSpace(s)
	switch strings.ToLower(t) {
	case "", "none":
		return IgnorePolicy{}, nil
	case "all":
		return IgnorePolicy{Mode: IgnoreAll}, nil
	}
	fields := strings.FieldsFunc(t, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	list, err := ParseExpectedErrors(fields)
	if err != nil {
		return IgnorePolicy{}, err
	}
	return IgnorePolicy{Mode: IgnoreListed, Expected: list}, nil
}

// ParseExpectedErrors parses each string with ParseExpectedError and stops
// at the first error.
func ParseExpectedErrors(ss []string) ([]ExpectedError, error) {
	return parseEach(ss, ParseExpectedError)
}

// String returns the form ParseIgnorePolicy reads.
func (p IgnorePolicy) String() string {
	switch p.Mode {
	case IgnoreAll:
		return "all"
	case IgnoreListed:
		if len(p.Expected) == 0 {
			return "none"
		}
		s := make([]string, len(p.Expected))
		for i, e := range p.Expected {
			s[i] = e.String()
		}
		return strings.Join(s, ",")
	}
	return "none"
}

// Ignores reports whether the policy accepts err.
func (p IgnorePolicy) Ignores(err SSLError) bool {
	if !err.Kind.Ignorable() {
		return false
	}
	switch p.Mode {
	case IgnoreAll:
		return true
	case IgnoreListed:
		return coveredBy(p.Expected, err)
	}
	return false
}

// Unignored returns the errors of errs the policy does not accept, in
// order.
func (p IgnorePolicy) Unignored(errs []SSLError) []SSLError {
	var out []SSLError
	for _, e := range errs {
		if !p.Ignores(e) {
			out = append(out, e)
		}
	}
	return out
}

func coveredBy(list []ExpectedError, err SSLError) bool {
	for _, e := range list {
		if e.Covers(err) {
			return true
		}
	}
	return false
}
