package tlsconf

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// SSLError is one problem found while verifying a peer's certificate
// chain, with the certificate it concerns (Qt's QSslError).
type SSLError struct {
	Kind ErrorKind
	// Cert is the certificate the problem concerns; nil for
	// no-peer-certificate, and for pin-mismatch when there is no leaf.
	Cert *x509.Certificate
	// Depth is Cert's position in the verified path as OpenSSL counts it:
	// 0 for the leaf, 1 for its issuer, …; -1 when Cert is nil.
	Depth int
	// Detail is a human explanation (which name, which dates, which pin).
	Detail string
	// Err is the crypto/x509 error behind the problem, when there is one.
	// VerificationError unwraps to it, so errors.As finds for example an
	// x509.HostnameError.
	Err error
}

// Error returns "KIND at depth D (subject): detail".
func (e SSLError) Error() string {
	var b bytes.Buffer
	b.WriteString(e.Kind.String())
	if e.Cert != nil {
		fmt.Fprintf(&b, " at depth %d (%s, sha256 %s)", e.Depth, certName(e.Cert), Fingerprint(e.Cert))
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// MarshalJSON encodes the error for the admin API and logs:
// {"kind","depth","subject","fingerprint","detail"}.
func (e SSLError) MarshalJSON() ([]byte, error) {
	v := struct {
		Kind        ErrorKind `json:"kind"`
		Depth       int       `json:"depth"`
		Subject     string    `json:"subject,omitempty"`
		Fingerprint string    `json:"fingerprint,omitempty"`
		Detail      string    `json:"detail,omitempty"`
	}{Kind: e.Kind, Depth: e.Depth, Detail: e.Detail}
	if e.Cert != nil {
		v.Subject = e.Cert.Subject.String()
		v.Fingerprint = Fingerprint(e.Cert)
	}
	return json.Marshal(v)
}

// VerifyOptions controls Verify. The zero value verifies a server
// certificate against the system roots at the current time without a host
// name check.
type VerifyOptions struct {
	// DNSName is the host name (or IP address) the leaf must be valid for;
	// empty skips the hostname check.
	DNSName string
	// Roots are the trust anchors; nil means the system roots.
	Roots *x509.CertPool
	// RootCerts are further trust anchors, added to Roots (or to the
	// system roots). Giving anchors as certificates also lets Verify tell
	// a bad signature from a missing issuer for certificates a root signs
	// directly.
	RootCerts []*x509.Certificate
	// CurrentTime is the time to check validity at; zero means now.
	CurrentTime time.Time
	// KeyUsages are the accepted extended key usages, as in
	// x509.VerifyOptions: empty means server authentication, use
	// x509.ExtKeyUsageClientAuth for client certificates.
	KeyUsages []x509.ExtKeyUsage
	// Pins, when not empty, must match (see PinMatch); otherwise Verify
	// reports pin-mismatch.
	Pins []Pin
	// PinMatch selects the certificates pins are matched against.
	PinMatch PinMatch
	// PinOnly replaces certificate-authority verification by the pins:
	// only no-peer-certificate and pin-mismatch are reported. Use it for
	// self-signed peers whose key is known.
	PinOnly bool
}

// Verify verifies a peer's certificate chain (leaf first, as sent in the
// TLS Certificate message) and returns every problem found, or nil when
// there is none. Unlike x509.Certificate.Verify it does not stop at the
// first problem: an expired self-signed certificate for the wrong host
// yields exactly [self-signed, expired, hostname-mismatch], and a valid
// self-signed leaf yields [self-signed] alone, as OpenSSL and Qt report.
//
// The checks are run separately. Verify links the chain by issuer name
// (using the peer's certificates and RootCerts), then checks every
// certificate of that path for its validity period at CurrentTime, its
// issuer's signature, the CA flag and path length constraints of issuers,
// and the extended key usage; the leaf for DNSName; and whether the top of
// the path is trusted, with crypto/x509 verifying it at a moment when the
// whole path is valid, so an expired chain is not also reported as
// untrusted. Name constraints come from crypto/x509 as well; they are
// reported when the rest of the path is structurally sound.
//
// Order: errors are sorted by kind, in ErrorKind order (unknown-authority
// … pin-mismatch), then by depth, leaf first. The order is stable and part
// of the API.
func Verify(chain []*x509.Certificate, opts VerifyOptions) []SSLError {
	if len(chain) == 0 || chain[0] == nil {
		errs := []SSLError{{Kind: NoPeerCertificate, Depth: -1, Detail: "the peer sent no certificate"}}
		if len(opts.Pins) > 0 {
			errs = append(errs, SSLError{Kind: PinMismatch, Depth: -1,
				Detail: fmt.Sprintf("expected a certificate matching one of [%s], the peer sent none", pinStrings(opts.Pins))})
		}
		return errs
	}
	v := &verification{chain: chain, opts: opts, now: opts.CurrentTime}
	if v.now.IsZero() {
		v.now = time.Now()
	}
	if !opts.PinOnly {
		v.checkChain()
	}
	v.checkPins()
	slices.SortStableFunc(v.errs, func(a, b SSLError) int {
		if a.Kind != b.Kind {
			return int(a.Kind) - int(b.Kind)
		}
		return a.Depth - b.Depth
	})
	return v.errs
}

type verification struct {
	chain []*x509.Certificate
	opts  VerifyOptions
	now   time.Time
	roots *x509.CertPool
	// path is the chain as linked: path[0] is the leaf, path[i+1] issued
	// path[i]; it may end in a trusted root the peer did not send.
	path     []*x509.Certificate
	anchored bool // the top of path is trusted
	errs     []SSLError
}

func (v *verification) add(kind ErrorKind, depth int, detail string, err error) {
	var c *x509.Certificate
	if depth >= 0 && depth < len(v.path) {
		c = v.path[depth]
	} else {
		depth = -1
	}
	for _, e := range v.errs {
		if e.Kind == kind && e.Depth == depth {
			return
		}
	}
	v.errs = append(v.errs, SSLError{Kind: kind, Cert: c, Depth: depth, Detail: detail, Err: err})
}

func (v *verification) has(kinds ...ErrorKind) bool {
	for _, e := range v.errs {
		if slices.Contains(kinds, e.Kind) {
			return true
		}
	}
	return false
}

func (v *verification) checkChain() {
	opts := v.opts
	leaf := v.chain[0]
	v.roots = opts.Roots
	if v.roots == nil {
		if sys, err := x509.SystemCertPool(); err == nil {
			v.roots = sys
		} else {
			v.roots = x509.NewCertPool()
		}
	} else if len(opts.RootCerts) > 0 {
		v.roots = v.roots.Clone()
	}
	for _, c := range opts.RootCerts {
		v.roots.AddCert(c)
	}
	intermediates := x509.NewCertPool()
	for _, c := range v.chain[1:] {
		if c != nil {
			intermediates.AddCert(c)
		}
	}

	v.path = linkPath(v.chain, opts.RootCerts)
	pinned := validMoment(v.path, v.now)

	// Is the top of the linked path trusted? crypto/x509 answers at a
	// moment when the path is valid, so expiry is reported once, as
	// expired, and not also as an authority problem.
	top := v.path[len(v.path)-1]
	anchorChains, anchorErr := top.Verify(x509.VerifyOptions{
		Roots: v.roots, CurrentTime: pinned, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if anchorErr == nil {
		v.anchored = true
		v.path = append(v.path, anchorChains[0][1:]...)
	}

	// The whole chain as crypto/x509 builds it. When it succeeds its path
	// replaces the linked one (it may use a cross-signed alternative).
	fullRoots := v.roots
	if !v.anchored && isSelfSigned(top) {
		// Trust the untrusted self-signed top for this pass only, so
		// that structural problems below it (name constraints) surface.
		fullRoots = v.roots.Clone()
		fullRoots.AddCert(top)
	}
	fullChains, fullErr := leaf.Verify(x509.VerifyOptions{
		Roots: fullRoots, Intermediates: intermediates, CurrentTime: pinned,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if fullErr == nil && v.anchored {
		v.path = fullChains[0]
	}

	v.checkTimes()
	v.checkAuthority(anchorErr)
	v.checkStructure()
	v.checkUsage()
	if opts.DNSName != "" {
		if err := leaf.VerifyHostname(opts.DNSName); err != nil {
			v.add(HostnameMismatch, 0, fmt.Sprintf("certificate is valid for %s, not %s", certNames(leaf), opts.DNSName), err)
		}
	}
	if fullErr != nil {
		v.classifyX509(fullErr)
	}
	if len(v.errs) == 0 {
		// Safety net: never report a clean chain that crypto/x509 itself
		// rejects with the real settings.
		_, err := leaf.Verify(x509.VerifyOptions{
			Roots: v.roots, Intermediates: intermediates, CurrentTime: v.now,
			DNSName: opts.DNSName, KeyUsages: opts.KeyUsages,
		})
		if err != nil {
			v.classifyX509(err)
			if len(v.errs) == 0 {
				v.add(UnknownAuthority, len(v.path)-1, err.Error(), err)
			}
		}
	}
}

func (v *verification) checkTimes() {
	for i, c := range v.path {
		switch {
		case v.now.After(c.NotAfter):
			v.add(Expired, i, fmt.Sprintf("expired at %s (now %s)", c.NotAfter.UTC().Format(time.RFC3339), v.now.UTC().Format(time.RFC3339)),
				x509.CertificateInvalidError{Cert: c, Reason: x509.Expired})
		case v.now.Before(c.NotBefore):
			v.add(NotYetValid, i, fmt.Sprintf("valid from %s (now %s)", c.NotBefore.UTC().Format(time.RFC3339), v.now.UTC().Format(time.RFC3339)),
				x509.CertificateInvalidError{Cert: c, Reason: x509.Expired})
		}
	}
}

func (v *verification) checkAuthority(anchorErr error) {
	if v.anchored {
		return
	}
	topIdx := len(v.path) - 1
	top := v.path[topIdx]
	switch {
	case isSelfSigned(top) && topIdx == 0:
		v.add(SelfSigned, 0, "self-signed certificate, not among the trusted roots", anchorErr)
	case isSelfSigned(top):
		v.add(SelfSignedInChain, topIdx, "the chain ends in a self-signed certificate that is not among the trusted roots", anchorErr)
	case isSelfIssued(top):
		// Self-issued with a bad self-signature: checkStructure reports
		// signature-failure.
	default:
		var ua x509.UnknownAuthorityError
		if errors.As(anchorErr, &ua) || anchorErr == nil {
			v.add(UnknownAuthority, topIdx, fmt.Sprintf("issuer %q not found among the chain and the trusted roots", top.Issuer.String()), anchorErr)
		} else {
			v.classifyX509(anchorErr)
		}
	}
}

func (v *verification) checkStructure() {
	for i := 1; i < len(v.path); i++ {
		child, parent := v.path[i-1], v.path[i]
		if err := parent.CheckSignature(child.SignatureAlgorithm, child.RawTBSCertificate, child.Signature); err != nil {
			v.add(SignatureFailure, i-1, fmt.Sprintf("signature by %q does not verify: %v", parent.Subject.String(), err), err)
		}
		if parent.Version == 3 && !parent.BasicConstraintsValid || parent.BasicConstraintsValid && !parent.IsCA {
			v.add(InvalidPurpose, i, "issues certificates but is not a CA certificate",
				x509.CertificateInvalidError{Cert: parent, Reason: x509.NotAuthorizedToSign})
		}
		// RFC 5280 §4.2.1.3: a key usage extension on a CA must allow
		// keyCertSign (crypto/x509 does not check this; OpenSSL does).
		if parent.KeyUsage != 0 && parent.KeyUsage&x509.KeyUsageCertSign == 0 {
			v.add(InvalidPurpose, i, "issues certificates but its key usage does not include certificate signing",
				x509.CertificateInvalidError{Cert: parent, Reason: x509.NotAuthorizedToSign})
		}
		// RFC 5280 §4.2.1.9: pathLenConstraint counts the non-self-issued
		// intermediates below this CA; crypto/x509 counts all of them.
		if parent.BasicConstraintsValid && parent.MaxPathLen >= 0 && i-1 > parent.MaxPathLen {
			v.add(PathLengthExceeded, i, fmt.Sprintf("path length constraint %d, but %d intermediate certificates follow", parent.MaxPathLen, i-1),
				x509.CertificateInvalidError{Cert: parent, Reason: x509.TooManyIntermediates})
		}
	}
	if top := v.path[len(v.path)-1]; isSelfIssued(top) && !v.anchored {
		if err := top.CheckSignature(top.SignatureAlgorithm, top.RawTBSCertificate, top.Signature); err != nil {
			v.add(SignatureFailure, len(v.path)-1, fmt.Sprintf("self-signature does not verify: %v", err), err)
		}
	}
}

func (v *verification) checkUsage() {
	want := v.opts.KeyUsages
	if len(want) == 0 {
		want = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	if slices.Contains(want, x509.ExtKeyUsageAny) {
		return
	}
	for i, c := range v.path {
		if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
			continue
		}
		if slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny) || slices.ContainsFunc(want, func(u x509.ExtKeyUsage) bool { return slices.Contains(c.ExtKeyUsage, u) }) {
			continue
		}
		err := x509.CertificateInvalidError{Cert: c, Reason: x509.IncompatibleUsage}
		if v.anchored && i == len(v.path)-1 && i > 0 {
			v.add(UntrustedRoot, i, fmt.Sprintf("trusted root may not be used for %s (its extended key usage is %s)", usageNames(want), usageNames(c.ExtKeyUsage)), err)
			continue
		}
		v.add(InvalidPurpose, i, fmt.Sprintf("extended key usage %s does not allow %s", usageNames(c.ExtKeyUsage), usageNames(want)), err)
	}
}

// classifyX509 maps a crypto/x509 error onto a kind, unless a problem
// found by the separate checks already explains it.
func (v *verification) classifyX509(err error) {
	var ci x509.CertificateInvalidError
	var ua x509.UnknownAuthorityError
	var ia x509.InsecureAlgorithmError
	structural := []ErrorKind{UnknownAuthority, UntrustedRoot, SelfSigned, SelfSignedInChain, SignatureFailure, InvalidPurpose, PathLengthExceeded, NameConstraints}
	switch {
	case errors.As(err, &ci):
		switch ci.Reason {
		case x509.Expired:
			if !v.has(Expired, NotYetValid) {
				v.add(Expired, v.depthOf(ci.Cert), ci.Error(), err)
			}
		case x509.CANotAuthorizedForThisName, x509.TooManyConstraints, x509.UnconstrainedName, x509.NameConstraintsWithoutSANs:
			v.add(NameConstraints, 0, ci.Error(), err)
		case x509.TooManyIntermediates:
			if !v.has(PathLengthExceeded) {
				v.add(PathLengthExceeded, v.depthOf(ci.Cert), ci.Error(), err)
			}
		case x509.NotAuthorizedToSign, x509.IncompatibleUsage, x509.CANotAuthorizedForExtKeyUsage:
			if !v.has(InvalidPurpose, UntrustedRoot) {
				v.add(InvalidPurpose, v.depthOf(ci.Cert), ci.Error(), err)
			}
		default:
			if !v.has(structural...) {
				v.add(UnknownAuthority, len(v.path)-1, ci.Error(), err)
			}
		}
	case errors.As(err, &ia):
		if !v.has(SignatureFailure) {
			v.add(SignatureFailure, 0, ia.Error(), err)
		}
	case errors.As(err, &ua):
		if !v.has(structural...) {
			v.add(UnknownAuthority, len(v.path)-1, ua.Error(), err)
		}
	default:
		if !v.has(structural...) {
			v.add(UnknownAuthority, len(v.path)-1, err.Error(), err)
		}
	}
}

func (v *verification) depthOf(c *x509.Certificate) int {
	for i, p := range v.path {
		if c != nil && p.Equal(c) {
			return i
		}
	}
	return 0
}

func (v *verification) checkPins() {
	pins := v.opts.Pins
	if len(pins) == 0 {
		return
	}
	leaf := v.chain[0]
	candidates := []*x509.Certificate{leaf}
	if v.opts.PinMatch == PinMatchChain {
		candidates = append(candidates, v.chain[1:]...)
		candidates = append(candidates, v.path...)
	}
	for _, c := range candidates {
		if c == nil {
			continue
		}
		for _, p := range pins {
			if p.Matches(c) {
				return
			}
		}
	}
	where := "the leaf"
	if v.opts.PinMatch == PinMatchChain {
		where = "any certificate of the chain"
	}
	detail := fmt.Sprintf("expected %s to match one of [%s]; seen leaf %s (%s)", where, pinStrings(pins), SPKIPin(leaf), CertificatePinOf(leaf))
	v.errs = append(v.errs, SSLError{Kind: PinMismatch, Cert: leaf, Depth: 0, Detail: detail})
}

// linkPath follows issuer names from the leaf through the peer's
// certificates and the extra roots, preferring candidates whose signature
// verifies. It stops at a self-issued certificate or a missing issuer.
func linkPath(chain []*x509.Certificate, roots []*x509.Certificate) []*x509.Certificate {
	path := []*x509.Certificate{chain[0]}
	pool := make([]*x509.Certificate, 0, len(chain)+len(roots))
	for _, c := range chain[1:] {
		if c != nil {
			pool = append(pool, c)
		}
	}
	pool = append(pool, roots...)
	for len(path) < 16 {
		cur := path[len(path)-1]
		if isSelfIssued(cur) {
			break
		}
		var next *x509.Certificate
		for _, c := range pool {
			if !bytes.Equal(c.RawSubject, cur.RawIssuer) || slices.ContainsFunc(path, c.Equal) {
				continue
			}
			if len(cur.AuthorityKeyId) > 0 && len(c.SubjectKeyId) > 0 && !bytes.Equal(cur.AuthorityKeyId, c.SubjectKeyId) {
				continue
			}
			if next == nil {
				next = c
			}
			if c.CheckSignature(cur.SignatureAlgorithm, cur.RawTBSCertificate, cur.Signature) == nil {
				next = c
				break
			}
		}
		if next == nil {
			break
		}
		path = append(path, next)
	}
	return path
}

// validMoment returns a time at which every certificate of path is valid:
// now if possible, else the closest such time; now when there is none.
func validMoment(path []*x509.Certificate, now time.Time) time.Time {
	from, until := path[0].NotBefore, path[0].NotAfter
	for _, c := range path[1:] {
		if c.NotBefore.After(from) {
			from = c.NotBefore
		}
		if c.NotAfter.Before(until) {
			until = c.NotAfter
		}
	}
	switch {
	case from.After(until):
		return now
	case now.Before(from):
		return from
	case now.After(until):
		return until
	}
	return now
}

func isSelfIssued(c *x509.Certificate) bool { return bytes.Equal(c.RawSubject, c.RawIssuer) }

// isSelfSigned reports whether c is self-issued and its signature verifies
// with its own key.
func isSelfSigned(c *x509.Certificate) bool {
	return isSelfIssued(c) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}
