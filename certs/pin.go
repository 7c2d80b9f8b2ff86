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

// SummarizePEM parses every CERTIFICATE block in pemBytes, in order, and
// summarizes each ([tlsconf.Summarize]). Other PEM blocks (keys) are
// ignored. It fails with ErrNoCertificate when there is none, or when a
// block does not parse.
func SummarizePEM(pemBytes []byte) ([]tlsconf.CertSummary, error) {
	chain, err := parseCertificates(pemBytes)
	if err != nil {
		return nil, err
	}
	return tlsconf.Summarize(chain), nil
}

// WriteSummaries writes chain in the text form of "wssproxy certs pin":
// one block per certificate, numbered from 0 (the leaf), with subject,
// issuer, names, validity, SHA-256 fingerprint and SPKI pin.
func WriteSummaries(w io.Writer, chain []tlsconf.CertSummary) error {
	var b strings.Builder
	for i, cs := range chain {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "certificate %d\n", i)
		fmt.Fprintf(&b, "  subject:     %s\n", cs.Subject)
		fmt.Fprintf(&b, "  issuer:      %s\n", cs.Issuer)
		if names := append(append([]string(nil), cs.DNSNames...), cs.IPs...); len(names) > 0 {
			fmt.Fprintf(&b, "  names:       %s\n", strings.Join(names, ", "))
		}
		fmt.Fprintf(&b, "  valid:       %s .. %s\n", cs.NotBefore.UTC().Format(time.RFC3339), cs.NotAfter.UTC().Format(time.RFC3339))
		if cs.IsCA {
			fmt.Fprintf(&b, "  ca:          true\n")
		}
		fmt.Fprintf(&b, "  sha256:      %s\n", cs.Fingerprint)
		fmt.Fprintf(&b, "  spki pin:    %s\n", cs.SPKIPin)
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
