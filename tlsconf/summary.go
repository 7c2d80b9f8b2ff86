package tlsconf

import (
	"crypto/x509"
	"fmt"
	"strings"
	"time"
)

// CertSummary describes one certificate for people deciding about it: in
// the pause registry, the admin API, logs and "wssproxy certs pin". Its
// JSON form is the admin API's.
type CertSummary struct {
	Subject   string    `json:"subject"`             // RFC 2253 form of the subject
	Issuer    string    `json:"issuer"`              // RFC 2253 form of the issuer
	DNSNames  []string  `json:"dns_names,omitempty"` // subject alternative DNS names
	IPs       []string  `json:"ips,omitempty"`       // subject alternative IP addresses, in text form
	NotBefore time.Time `json:"not_before"`          // start of validity
	NotAfter  time.Time `json:"not_after"`           // end of validity
	IsCA      bool      `json:"is_ca"`               // basic constraints CA flag
	// Fingerprint is the whole-certificate SHA-256 in lower-case hex (see
	// Fingerprint); use it in "KIND:SHA256" expected errors and, prefixed
	// with "cert-sha256:", as a certificate pin.
	Fingerprint string `json:"fingerprint"`
	// SPKIPin is the public-key pin, "sha256//<base64>" (see SPKIPin).
	SPKIPin string `json:"spki_pin"`
}

// Summarize returns a CertSummary per certificate, in order; nil entries
// are skipped.
func Summarize(chain []*x509.Certificate) []CertSummary {
	out := make([]CertSummary, 0, len(chain))
	for _, c := range chain {
		if c != nil {
			out = append(out, SummarizeCert(c))
		}
	}
	return out
}

// SummarizeCert returns the CertSummary of one certificate, which must not
// be nil.
func SummarizeCert(c *x509.Certificate) CertSummary {
	s := CertSummary{
		Subject:     c.Subject.String(),
		Issuer:      c.Issuer.String(),
		DNSNames:    c.DNSNames,
		NotBefore:   c.NotBefore,
		NotAfter:    c.NotAfter,
		IsCA:        c.IsCA,
		Fingerprint: Fingerprint(c),
		SPKIPin:     SPKIPin(c),
	}
	for _, ip := range c.IPAddresses {
		s.IPs = append(s.IPs, ip.String())
	}
	return s
}

func certName(c *x509.Certificate) string {
	if s := c.Subject.String(); s != "" {
		return s
	}
	if len(c.DNSNames) > 0 {
		return "DNS:" + c.DNSNames[0]
	}
	return "serial " + c.SerialNumber.String()
}

func certNames(c *x509.Certificate) string {
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return "no DNS or IP names"
	}
	return strings.Join(names, ", ")
}

func usageNames(us []x509.ExtKeyUsage) string {
	if len(us) == 0 {
		return "[]"
	}
	names := make([]string, len(us))
	for i, u := range us {
		names[i] = usageName(u)
	}
	return "[" + strings.Join(names, ", ") + "]"
}

// usageName names an extended key usage as OpenSSL does, or eku(N) for
// one without a name here.
func usageName(u x509.ExtKeyUsage) string {
	switch u {
	case x509.ExtKeyUsageAny:
		return "any"
	case x509.ExtKeyUsageServerAuth:
		return "serverAuth"
	case x509.ExtKeyUsageClientAuth:
		return "clientAuth"
	case x509.ExtKeyUsageCodeSigning:
		return "codeSigning"
	case x509.ExtKeyUsageEmailProtection:
		return "emailProtection"
	case x509.ExtKeyUsageTimeStamping:
		return "timeStamping"
	case x509.ExtKeyUsageOCSPSigning:
		return "OCSPSigning"
	}
	return fmt.Sprintf("eku(%d)", int(u))
}
