package tlsconf

import (
	"crypto/x509"
	"testing"
	"time"
)

// scenario is one generated chain with the verdict every verifier (ours,
// openssl verify, openssl s_client) must reach.
type scenario struct {
	name   string
	served []*testCert // what the server sends, leaf first
	roots  []*testCert // trust anchors of the client
	host   string      // name the client verifies
	want   []ErrorKind // exact list, in Verify's order
	// wantDepths are the depths of want, in order.
	wantDepths []int
	// opensslStops: openssl verify stops before reporting all of want;
	// its kinds must then be a non-empty subset of want.
	opensslStops bool
	// opensslWant, if set, is what openssl verify reports instead of want
	// (a documented difference in naming, same depth).
	opensslWant []ErrorKind
}

// scenarios generates a chain per error kind (and combinations). host is
// "localhost" unless a scenario needs otherwise.
func scenarios(t testing.TB) []scenario {
	t.Helper()
	now := time.Now()
	past := certSpec{notBefore: now.Add(-48 * time.Hour), notAfter: now.Add(-24 * time.Hour)}
	future := certSpec{notBefore: now.Add(24 * time.Hour), notAfter: now.Add(48 * time.Hour)}

	root := newCert(t, caSpec("Test Root"), nil)
	inter := newCert(t, caSpec("Test Intermediate"), root)
	leaf := newCert(t, leafSpec("localhost", "127.0.0.1"), inter)

	otherRoot := newCert(t, caSpec("Other Root"), nil)
	otherInter := newCert(t, caSpec("Other Intermediate"), otherRoot)
	otherLeaf := newCert(t, leafSpec("localhost"), otherInter)

	expiredLeaf := leafSpec("localhost")
	expiredLeaf.notBefore, expiredLeaf.notAfter = past.notBefore, past.notAfter
	futureLeaf := leafSpec("localhost")
	futureLeaf.notBefore, futureLeaf.notAfter = future.notBefore, future.notAfter

	// A self-signed leaf must be a CA for OpenSSL to accept it as its own
	// issuer when trusted; an untrusted one is reported the same either way.
	selfSigned := newCert(t, leafSpec("localhost"), nil)
	ssExpiredWrongHost := leafSpec("wrong.example")
	ssExpiredWrongHost.notBefore, ssExpiredWrongHost.notAfter = past.notBefore, past.notAfter

	expiredInterSpec := caSpec("Expired Intermediate")
	expiredInterSpec.notBefore, expiredInterSpec.notAfter = now.Add(-48*time.Hour), now.Add(-time.Minute)
	expiredInter := newCert(t, expiredInterSpec, root)
	leafUnderExpiredInterSpec := leafSpec("localhost")
	leafUnderExpiredInterSpec.notBefore = now.Add(-47 * time.Hour)
	leafUnderExpiredInter := newCert(t, leafUnderExpiredInterSpec, expiredInter)

	clientOnly := leafSpec("localhost")
	clientOnly.eku = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}

	rootPath0Spec := caSpec("Root pathlen 0")
	rootPath0Spec.maxPath = 0
	rootPath0 := newCert(t, rootPath0Spec, nil)
	interUnderPath0 := newCert(t, caSpec("Intermediate under pathlen 0"), rootPath0)

	constrainedSpec := caSpec("Root permitted example.com")
	constrainedSpec.permitted = []string{"example.com"}
	constrainedRoot := newCert(t, constrainedSpec, nil)

	notCASpec := leafSpec("not-a-ca.example")
	notCA := newCert(t, notCASpec, root)

	clientAuthRootSpec := caSpec("Root clientAuth only")
	clientAuthRootSpec.eku = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	clientAuthRoot := newCert(t, clientAuthRootSpec, nil)

	return []scenario{
		{name: "valid", served: []*testCert{leaf, inter}, roots: []*testCert{root}, host: "localhost"},
		{name: "valid-root-sent", served: []*testCert{leaf, inter, root}, roots: []*testCert{root}, host: "localhost"},
		{name: "valid-ip", served: []*testCert{leaf, inter}, roots: []*testCert{root}, host: "127.0.0.1"},
		{name: "expired", served: []*testCert{newCert(t, expiredLeaf, inter), inter}, roots: []*testCert{root}, host: "localhost",
			want: []ErrorKind{Expired}, wantDepths: []int{0}},
		{name: "not-yet-valid", served: []*testCert{newCert(t, futureLeaf, inter), inter}, roots: []*testCert{root}, host: "localhost",
			want: []ErrorKind{NotYetValid}, wantDepths: []int{0}},
		{name: "expired-intermediate", served: []*testCert{leafUnderExpiredInter, expiredInter}, roots: []*testCert{root}, host: "localhost",
			want: []ErrorKind{Expired}, wantDepths: []int{1}},
		{name: "self-signed", served: []*testCert{selfSigned}, roots: []*testCert{root}, host: "localhost",
			want: []ErrorKind{SelfSigned}, wantDepths: []int{0}},
		{name: "self-signed-expired-wrong-host", served: []*testCert{newCert(t, ssExpiredWrongHost, nil)}, roots: []*testCert{root}, host: "localhost",
			// OpenSSL stops checking dates of an untrusted self-signed leaf;
			// Qt and Verify report all three.
			want: []ErrorKind{SelfSigned, Expired, HostnameMismatch}, wantDepths: []int{0, 0, 0}, opensslStops: true},
		{name: "unknown-ca", served: []*testCert{otherLeaf, otherInter}, roots: []*testCert{root}, host: "localhost",
			want: []ErrorKind{UnknownAuthority}, wantDepths: []int{1}},
		{name: "missing-intermediate", served: []*testCert{leaf}, roots: []*testCert{root}, host: "localhost",
			want: []ErrorKind{UnknownAuthority}, wantDepths: []int{0}},
		{name: "self-signed-in-chain", served: []*testCert{otherLeaf, otherInter, otherRoot}, roots: []*testCert{root}, host: "localhost",
			want: []ErrorKind{SelfSignedInChain}, wantDepths: []int{2}},
		{name: "wrong-host", served: []*testCert{leaf, inter}, roots: []*testCert{root}, host: "wrong.example",
			want: []ErrorKind{HostnameMismatch}, wantDepths: []int{0}},
		{name: "wrong-eku", served: []*testCert{newCert(t, clientOnly, inter), inter}, roots: []*testCert{root}, host: "localhost",
			want: []ErrorKind{InvalidPurpose}, wantDepths: []int{0}},
		{name: "issuer-not-ca", served: []*testCert{newCert(t, leafSpec("localhost"), notCA), notCA}, roots: []*testCert{root}, host: "localhost",
			want: []ErrorKind{InvalidPurpose}, wantDepths: []int{1}},
		{name: "path-length", served: []*testCert{newCert(t, leafSpec("localhost"), interUnderPath0), interUnderPath0}, roots: []*testCert{rootPath0}, host: "localhost",
			want: []ErrorKind{PathLengthExceeded}, wantDepths: []int{2}},
		{name: "name-constraints", served: []*testCert{newCert(t, leafSpec("localhost"), constrainedRoot)}, roots: []*testCert{constrainedRoot}, host: "localhost",
			want: []ErrorKind{NameConstraints}, wantDepths: []int{0}},
		{name: "signature-failure", served: []*testCert{tamper(t, newCert(t, leafSpec("localhost"), inter)), inter}, roots: []*testCert{root}, host: "localhost",
			want: []ErrorKind{SignatureFailure}, wantDepths: []int{0}},
		{name: "untrusted-root", served: []*testCert{newCert(t, leafSpec("localhost"), clientAuthRoot)}, roots: []*testCert{clientAuthRoot}, host: "localhost",
			// OpenSSL says "unsuitable certificate purpose" (26) at the root;
			// tlsconf names a trust anchor that excludes the purpose
			// untrusted-root (Qt's CertificateUntrusted), so that ignoring
			// invalid-purpose never widens what a root is trusted for.
			want: []ErrorKind{UntrustedRoot}, wantDepths: []int{1}, opensslWant: []ErrorKind{InvalidPurpose}},
	}
}
