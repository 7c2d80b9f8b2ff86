package tlsconf

import (
	"crypto/x509"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// Summarize describes each certificate of a chain in order, skips nil
// entries, and its JSON form has the admin API's field names.
func TestSummarize(t *testing.T) {
	t.Parallel()
	ca := newCert(t, caSpec("summary CA"), nil)
	leaf := newCert(t, leafSpec("a.test", "b.test", "127.0.0.1", "::1"), ca)

	got := Summarize(append(certsOf(leaf, ca), nil))
	if len(got) != 2 {
		t.Fatalf("%d summaries for 2 certificates and a nil: %+v", len(got), got)
	}
	l, c := got[0], got[1]
	if l.Subject != leaf.cert.Subject.String() || l.Issuer != ca.cert.Subject.String() || l.IsCA {
		t.Errorf("leaf: %+v", l)
	}
	if !slices.Equal(l.DNSNames, []string{"a.test", "b.test"}) || !slices.Equal(l.IPs, []string{"127.0.0.1", "::1"}) {
		t.Errorf("leaf names: %v %v", l.DNSNames, l.IPs)
	}
	if !l.NotBefore.Equal(leaf.cert.NotBefore) || !l.NotAfter.Equal(leaf.cert.NotAfter) {
		t.Errorf("leaf validity: %v .. %v", l.NotBefore, l.NotAfter)
	}
	if l.Fingerprint != Fingerprint(leaf.cert) || l.SPKIPin != SPKIPin(leaf.cert) || !strings.HasPrefix(l.SPKIPin, "sha256//") {
		t.Errorf("leaf fingerprint/pin: %s %s", l.Fingerprint, l.SPKIPin)
	}
	if !c.IsCA || c.Subject != c.Issuer || c.SPKIPin != SPKIPin(ca.cert) {
		t.Errorf("CA: %+v", c)
	}
	if one := SummarizeCert(leaf.cert); one.Fingerprint != l.Fingerprint || len(one.IPs) != 2 {
		t.Errorf("SummarizeCert differs from Summarize: %+v", one)
	}

	js, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"subject":`, `"issuer":`, `"dns_names":`, `"ips":["127.0.0.1","::1"]`, `"not_before":`, `"not_after":`, `"is_ca":false`, `"fingerprint":`, `"spki_pin":`} {
		if !strings.Contains(string(js), key) {
			t.Errorf("JSON lacks %s: %s", key, js)
		}
	}
}

// usageNames prints the extended key usages of an invalid-purpose error
// with OpenSSL's names, and eku(N) for the ones it has no name for.
func TestUsageNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		us   []x509.ExtKeyUsage
		want string
	}{
		{nil, "[]"},
		{[]x509.ExtKeyUsage{x509.ExtKeyUsageAny, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageCodeSigning},
			"[any, serverAuth, clientAuth, codeSigning]"},
		{[]x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection, x509.ExtKeyUsageTimeStamping, x509.ExtKeyUsageOCSPSigning},
			"[emailProtection, timeStamping, OCSPSigning]"},
		{[]x509.ExtKeyUsage{x509.ExtKeyUsageIPSECUser, x509.ExtKeyUsageServerAuth, -1, 1000},
			"[eku(7), serverAuth, eku(-1), eku(1000)]"},
	} {
		if got := usageNames(tc.us); got != tc.want {
			t.Errorf("usageNames(%v) = %s, want %s", tc.us, got, tc.want)
		}
	}
}
