package tlsconf_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"sync"
	"time"

	"github.com/wssproxy/wssproxy/tlsconf"
)

// selfSigned makes a self-signed certificate for host, valid from
// notBefore to notAfter.
func selfSigned(host string, notBefore, notAfter time.Time) (tls.Certificate, *x509.Certificate) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	cert, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, cert
}

// serve runs a TLS server on 127.0.0.1 until stop is called. It closes
// each connection after reading one byte.
func serve(cert tls.Certificate) (addr string, stop func()) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				tc := tls.Server(c, cfg)
				if tc.Handshake() == nil {
					_, _ = tc.Read(make([]byte, 1))
				}
				_ = tc.Close()
			}()
		}
	}()
	return ln.Addr().String(), func() { _ = ln.Close(); wg.Wait() }
}

// A client for a self-signed upstream whose key is known: the pin replaces
// certificate-authority verification.
func Example_pinOnlyClient() {
	now := time.Now()
	srvCert, leaf := selfSigned("upstream.internal", now.Add(-time.Hour), now.Add(time.Hour))
	addr, stop := serve(srvCert)
	defer stop()

	// In a configuration file: pin: "sha256//…", as `wssproxy certs pin` prints.
	pin, err := tlsconf.ParsePin(tlsconf.SPKIPin(leaf))
	if err != nil {
		panic(err)
	}
	client, err := tlsconf.NewClient(&tlsconf.ClientOptions{
		ServerName: "upstream.internal",
		Policy:     tlsconf.Policy{PinOnly: true, Pins: []tlsconf.Pin{pin}},
	})
	if err != nil {
		panic(err)
	}
	conn, err := client.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		fmt.Println("handshake failed:", err)
		return
	}
	defer conn.Close()
	fmt.Println("connected to the pinned upstream")
	// Output: connected to the pinned upstream
}

// Accept exactly one self-signed certificate, like Qt's
// ignoreSslErrors({QSslError(SelfSignedCertificate, cert)}); any other
// certificate, or any other problem, still fails.
func Example_ignoreOneSelfSignedCert() {
	now := time.Now()
	srvCert, leaf := selfSigned("localhost", now.Add(-time.Hour), now.Add(time.Hour))
	addr, stop := serve(srvCert)
	defer stop()

	// As a flag: --ignore-ssl-error self-signed:<sha256 fingerprint>
	expected, err := tlsconf.ParseExpectedError("self-signed:" + tlsconf.Fingerprint(leaf))
	if err != nil {
		panic(err)
	}
	policy := tlsconf.Policy{
		Roots:  x509.NewCertPool(), // no trusted roots at all, for the example
		Ignore: tlsconf.IgnorePolicy{Mode: tlsconf.IgnoreListed, Expected: []tlsconf.ExpectedError{expected}},
	}
	client, err := tlsconf.NewClient(&tlsconf.ClientOptions{ServerName: "localhost", Policy: policy})
	if err != nil {
		panic(err)
	}
	conn, err := client.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		fmt.Println("handshake failed:", err)
		return
	}
	conn.Close()
	fmt.Println("this certificate: accepted")

	// Another self-signed certificate is refused.
	otherCert, _ := selfSigned("localhost", now.Add(-time.Hour), now.Add(time.Hour))
	addr2, stop2 := serve(otherCert)
	defer stop2()
	_, err = client.DialContext(context.Background(), "tcp", addr2)
	if ve, ok := errors.AsType[*tlsconf.VerificationError](err); ok {
		fmt.Println("another certificate:", ve.Kinds())
	}
	// Output:
	// this certificate: accepted
	// another certificate: [self-signed]
}

// Pause a handshake on SSL errors, show what an operator (or the admin
// API) sees, and resume it.
func Example_pauseThenResume() {
	now := time.Now()
	srvCert, _ := selfSigned("localhost", now.Add(-time.Hour), now.Add(time.Hour))
	addr, stop := serve(srvCert)
	defer stop()

	registry := tlsconf.NewRegistry()
	paused := make(chan string, 1)
	client, err := tlsconf.NewClient(&tlsconf.ClientOptions{
		ServerName: "localhost",
		Policy: tlsconf.Policy{
			Roots:    x509.NewCertPool(),
			Pause:    tlsconf.PauseOnSSLErrors,
			Registry: registry,
			OnPause:  func(p tlsconf.PausedHandshake) { paused <- p.ID },
		},
	})
	if err != nil {
		panic(err)
	}
	done := make(chan error, 1)
	go func() {
		conn, err := client.DialContext(context.Background(), "tcp", addr)
		if err == nil {
			conn.Close()
		}
		done <- err
	}()

	id := <-paused
	for _, p := range registry.List() {
		fmt.Println("paused:", p.ServerName, p.Errors[0].Kind, len(p.Chain), "certificate(s)")
	}
	// Accept the errors shown; true would also remember the key as a pin.
	if err := registry.Resume(id, nil, false); err != nil {
		panic(err)
	}
	fmt.Println("handshake error after resume:", <-done)
	// Output:
	// paused: localhost self-signed 1 certificate(s)
	// handshake error after resume: <nil>
}

// Verify reports every problem, each with its certificate.
func ExampleVerify() {
	now := time.Now()
	_, leaf := selfSigned("wrong.example", now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	errs := tlsconf.Verify([]*x509.Certificate{leaf}, tlsconf.VerifyOptions{
		DNSName: "localhost",
		Roots:   x509.NewCertPool(),
	})
	for _, e := range errs {
		fmt.Println(e.Kind, "depth", e.Depth)
	}
	// Output:
	// self-signed depth 0
	// expired depth 0
	// hostname-mismatch depth 0
}

// ParseCertificates reads a chain or a bundle from PEM data, such as a
// file a configuration names; blocks of other types are skipped.
func ExampleParseCertificates() {
	now := time.Now()
	_, a := selfSigned("a.example", now.Add(-time.Hour), now.Add(time.Hour))
	_, b := selfSigned("b.example", now.Add(-time.Hour), now.Add(time.Hour))
	bundle := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.Raw})...)

	certs, err := tlsconf.ParseCertificates(bundle)
	if err != nil {
		panic(err)
	}
	for _, c := range certs {
		fmt.Println(c.Subject.CommonName)
	}
	_, err = tlsconf.ParseCertificates([]byte("not PEM"))
	fmt.Println(errors.Is(err, tlsconf.ErrNoCertificate))
	// Output:
	// a.example
	// b.example
	// true
}

// Session resumption: the Client keeps the sessions of the servers it
// reached, and its next handshake to the same server name skips the
// certificate exchange. The policy (here the pin) is checked on the
// resumed handshake too, against the chain the session was made with.
func ExampleClientOptions_sessionResumption() {
	now := time.Now()
	srvCert, leaf := selfSigned("upstream.internal", now.Add(-time.Hour), now.Add(time.Hour))
	addr, stop := serve(srvCert)
	defer stop()

	client, err := tlsconf.NewClient(&tlsconf.ClientOptions{
		ServerName:       "upstream.internal",
		Policy:           tlsconf.Policy{PinOnly: true, Pins: []tlsconf.Pin{tlsconf.SPKIPinOf(leaf)}},
		SessionCacheSize: tlsconf.DefaultSessionCacheSize,
	})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 2 {
		conn, err := client.DialContext(ctx, "tcp", addr)
		if err != nil {
			panic(err)
		}
		// A TLS 1.3 server sends its session ticket after the handshake:
		// the client takes it when it reads.
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = conn.Write([]byte{0})
		_, _ = io.ReadAll(conn)
		fmt.Println("resumed:", conn.ConnectionState().DidResume)
		_ = conn.Close()
	}
	// Output:
	// resumed: false
	// resumed: true
}
