package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/wssproxy/wssproxy/tlsconf"
)

// CertInfo is what "wssproxy certs pin" shows about one certificate.
type CertInfo struct {
	Subject     string    // RFC 2253 form of the subject
	Issuer      string    // RFC 2253 form of the issuer
	DNSNames    []string  // subject alternative DNS names
	IPAddresses []net.IP  // subject alternative IP addresses
	NotBefore   time.Time // start of validity
	NotAfter    time.Time // end of validity
	IsCA        bool      // basic constraints CA flag
	Fingerprint string    // SHA-256 of the DER certificate, lower-case hex (tlsconf.Fingerprint)
	SPKIPin     string    // "sha256//<base64>" of the SubjectPublicKeyInfo (tlsconf.SPKIPin)

	Certificate *x509.Certificate // the parsed certificate
}

// DescribeCertificate returns the CertInfo of cert.
func DescribeCertificate(cert *x509.Certificate) CertInfo {
	return CertInfo{
		Subject:     cert.Subject.String(),
		Issuer:      cert.Issuer.String(),
		DNSNames:    cert.DNSNames,
		IPAddresses: cert.IPAddresses,
		NotBefore:   cert.NotBefore,
		NotAfter:    cert.NotAfter,
		IsCA:        cert.IsCA,
		Fingerprint: tlsconf.Fingerprint(cert),
		SPKIPin:     tlsconf.SPKIPin(cert),
		Certificate: cert,
	}
}

// DescribeCertificates parses every CERTIFICATE block in pemBytes, in
// order, and describes each. Other PEM blocks (keys) are ignored. It fails
// with ErrNoCertificate when there is none, or when a block does not parse.
func DescribeCertificates(pemBytes []byte) ([]CertInfo, error) {
	chain, err := parseCertificates(pemBytes)
	if err != nil {
		return nil, err
	}
	return DescribeChain(chain), nil
}

// DescribeChain describes each certificate of chain, in order.
func DescribeChain(chain []*x509.Certificate) []CertInfo {
	out := make([]CertInfo, len(chain))
	for i, c := range chain {
		out[i] = DescribeCertificate(c)
	}
	return out
}

// WriteCertInfos writes infos in the text form of "wssproxy certs pin":
// one block per certificate, numbered from 0 (the leaf), with subject,
// issuer, names, validity, SHA-256 fingerprint and SPKI pin.
func WriteCertInfos(w io.Writer, infos []CertInfo) error {
	var b strings.Builder
	for i, ci := range infos {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "certificate %d\n", i)
		fmt.Fprintf(&b, "  subject:     %s\n", ci.Subject)
		fmt.Fprintf(&b, "  issuer:      %s\n", ci.Issuer)
		names := append([]string(nil), ci.DNSNames...)
		for _, ip := range ci.IPAddresses {
			names = append(names, ip.String())
		}
		if len(names) > 0 {
			fmt.Fprintf(&b, "  names:       %s\n", strings.Join(names, ", "))
		}
		fmt.Fprintf(&b, "  valid:       %s .. %s\n", ci.NotBefore.UTC().Format(time.RFC3339), ci.NotAfter.UTC().Format(time.RFC3339))
		if ci.IsCA {
			fmt.Fprintf(&b, "  ca:          true\n")
		}
		fmt.Fprintf(&b, "  sha256:      %s\n", ci.Fingerprint)
		fmt.Fprintf(&b, "  spki pin:    %s\n", ci.SPKIPin)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ProbeOptions configures [ProbeChain]. The zero value (or nil) is valid.
type ProbeOptions struct {
	// SNI is the server name sent in the ClientHello. Empty means the host
	// part of hostport, unless it is an IP address (then no SNI is sent).
	SNI string
	// Dial opens the TCP connection, for example through an HTTP CONNECT
	// or SOCKS5 proxy. Nil means a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// NextProtos are the ALPN protocols offered; nil offers none.
	NextProtos []string
	// Timeout bounds the dial and handshake when ctx has no earlier
	// deadline; zero means 15 seconds.
	Timeout time.Duration
}

// ProbeResult is what a TLS server presented to [ProbeChain].
type ProbeResult struct {
	// Chain is the certificate chain as sent by the server, leaf first.
	Chain []*x509.Certificate
	// State is the connection state of the finished handshake.
	State tls.ConnectionState
	// ServerName is the SNI that was sent ("" for none).
	ServerName string
}

// ProbeChain connects to hostport, completes a TLS handshake WITHOUT
// verifying the server (so it works for self-signed, expired or otherwise
// broken chains), closes the connection and returns what the server
// presented. It is meant for showing a chain to a user who then decides
// which pins or expected errors to configure; never use the result as
// trusted. Verify it with tlsconf to list its problems. Cancelling ctx
// aborts the dial and handshake.
func ProbeChain(ctx context.Context, hostport string, opts *ProbeOptions) (*ProbeResult, error) {
	var o ProbeOptions
	if opts != nil {
		o = *opts
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, fmt.Errorf("certs: probe: %w", err)
	}
	sni := o.SNI
	if sni == "" && net.ParseIP(host) == nil {
		sni = host
	}
	if o.Dial == nil {
		d := &net.Dialer{}
		o.Dial = d.DialContext
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	raw, err := o.Dial(ctx, "tcp", hostport)
	if err != nil {
		return nil, fmt.Errorf("certs: probe %s: %w", hostport, err)
	}
	conn := tls.Client(raw, &tls.Config{
		ServerName: sni,
		NextProtos: o.NextProtos,
		// The point of a probe is to see a chain we may not trust yet; the
		// caller verifies (and pins) it separately.
		InsecureSkipVerify: true, //nolint:gosec // see above
	})
	defer conn.Close()
	if err := conn.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("certs: probe %s: %w", hostport, err)
	}
	st := conn.ConnectionState()
	if len(st.PeerCertificates) == 0 {
		return nil, errors.New("certs: probe: server sent no certificate")
	}
	return &ProbeResult{Chain: st.PeerCertificates, State: st, ServerName: sni}, nil
}
