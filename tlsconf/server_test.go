package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// acceptHandshake accepts one connection on ln and runs a server
// handshake on it with cfg, bound to ctx, then after (when not nil) on the
// connection; the channel gets the first error.
func acceptHandshake(ctx context.Context, ln net.Listener, cfg *tls.Config, after func(*tls.Conn) error) <-chan error {
	srvErr := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		defer conn.Close()
		tc := tls.Server(conn, cfg)
		err = tc.HandshakeContext(ctx)
		if err == nil && after != nil {
			err = after(tc)
		}
		srvErr <- err
	}()
	return srvErr
}

// serverHandshake runs one handshake of a ServerConfig server against a
// client presenting clientChain (none if empty) and returns the server's
// error.
func serverHandshake(t *testing.T, o *ServerOptions, clientChain ...*testCert) error {
	t.Helper()
	cfg, err := ServerConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	ln := testpeer.Listen(t)
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srvErr := acceptHandshake(ctx, ln, cfg, nil)
	base := &tls.Config{}
	if len(clientChain) > 0 {
		base.Certificates = []tls.Certificate{tlsCert(clientChain...)}
	}
	c := mustClient(t, &ClientOptions{Base: base, ServerName: "localhost", Policy: Policy{Ignore: IgnorePolicy{Mode: IgnoreAll}}})
	// The server's verdict is what the tests check; the client may fail
	// when the server refuses it.
	conn, _ := c.DialContext(ctx, "tcp", ln.Addr().String())
	err = <-srvErr
	if conn != nil {
		_ = conn.Close()
	}
	return err
}

func TestServerClientCertificates(t *testing.T) {
	t.Parallel()
	srv := newCert(t, leafSpec("localhost"), nil)
	root := newCert(t, caSpec("Client Root"), nil)
	good := newCert(t, leafSpec("client"), root)
	serverOnlySpec := leafSpec("client")
	serverOnlySpec.eku = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	serverOnly := newCert(t, serverOnlySpec, root)
	expiredSpec := leafSpec("client")
	expiredSpec.notBefore, expiredSpec.notAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour)
	expired := newCert(t, expiredSpec, root)
	stranger := newCert(t, leafSpec("client"), nil)

	dir := t.TempDir()
	caFile := writePEM(t, dir, "client-ca.pem", root.cert)
	base := &tls.Config{Certificates: []tls.Certificate{tlsCert(srv)}}

	cases := []struct {
		name   string
		mode   ClientCertMode
		policy Policy
		client []*testCert
		want   []ErrorKind // nil: success
	}{
		{"required-valid", ClientCertRequired, Policy{}, []*testCert{good}, nil},
		{"required-none", ClientCertRequired, Policy{}, nil, []ErrorKind{NoPeerCertificate}},
		{"required-none-ignored", ClientCertRequired, Policy{Ignore: IgnorePolicy{Mode: IgnoreListed, Expected: []ExpectedError{{Kind: NoPeerCertificate}}}}, nil, nil},
		{"optional-none", ClientCertOptional, Policy{}, nil, nil},
		{"optional-self-signed", ClientCertOptional, Policy{}, []*testCert{stranger}, []ErrorKind{SelfSigned}},
		{"required-wrong-eku", ClientCertRequired, Policy{}, []*testCert{serverOnly}, []ErrorKind{InvalidPurpose}},
		{"required-expired", ClientCertRequired, Policy{}, []*testCert{expired}, []ErrorKind{Expired}},
		{"pinned-client", ClientCertRequired, Policy{PinOnly: true, Pins: []Pin{SPKIPinOf(stranger.cert)}}, []*testCert{stranger}, nil},
		{"pinned-client-wrong", ClientCertRequired, Policy{PinOnly: true, Pins: []Pin{SPKIPinOf(good.cert)}}, []*testCert{stranger}, []ErrorKind{PinMismatch}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := serverHandshake(t, &ServerOptions{Base: base, ClientCerts: tc.mode, ClientCAFile: caFile, Policy: tc.policy}, tc.client...)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("server handshake failed: %v", err)
				}
				return
			}
			ve := verificationError(t, err)
			if !slices.Equal(ve.Kinds(), tc.want) {
				t.Fatalf("kinds %v, want %v (%v)", ve.Kinds(), tc.want, err)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	srv := newCert(t, leafSpec("localhost"), nil)
	dir := t.TempDir()
	certFile := writePEM(t, dir, "srv.pem", srv.cert)
	keyFile := writeKey(t, dir, "srv.key", srv.key)
	scfg, err := ServerConfig(&ServerOptions{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	if scfg.MinVersion != tls.VersionTLS12 || !slices.Equal(scfg.NextProtos, []string{"http/1.1"}) ||
		!slices.Equal(scfg.CipherSuites, DefaultCipherSuites()) || !slices.Equal(scfg.CurvePreferences, DefaultCurves()) {
		t.Fatalf("server defaults: min %x alpn %v suites %v curves %v", scfg.MinVersion, scfg.NextProtos, scfg.CipherSuites, scfg.CurvePreferences)
	}
	if _, err := ServerConfig(nil); err == nil {
		t.Fatal("ServerConfig(nil): no error without a certificate")
	}

	// Base fields that are set are kept; the options struct is copied.
	o := &ClientOptions{Base: &tls.Config{MinVersion: tls.VersionTLS13, NextProtos: []string{"h2"}}, CAFile: certFile, ServerName: "localhost"}
	c, err := NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	o.ServerName = "changed.example"
	o.Base.MinVersion = tls.VersionTLS10
	ccfg := c.Config(context.Background())
	if ccfg.MinVersion != tls.VersionTLS13 || ccfg.ServerName != "localhost" || !ccfg.InsecureSkipVerify || ccfg.VerifyConnection == nil {
		t.Fatalf("client config: min %x sni %q insecure %v", ccfg.MinVersion, ccfg.ServerName, ccfg.InsecureSkipVerify)
	}
	// TLS 1.0 and 1.1 are refused.
	old := startServer(t, &tls.Config{Certificates: []tls.Certificate{tlsCert(srv)}, MaxVersion: tls.VersionTLS11, MinVersion: tls.VersionTLS10})
	if _, err := dial(t, c, old); err == nil {
		t.Fatal("TLS 1.1 server accepted")
	}
	// The CA file trusts the self-signed server: the handshake succeeds
	// and negotiates ALPN http/1.1 with the server config.
	s := startServer(t, scfg)
	c2 := mustClient(t, &ClientOptions{Base: &tls.Config{NextProtos: []string{"http/1.1"}}, CAFile: certFile, ServerName: "localhost"})
	conn, err := dial(t, c2, s)
	if err != nil {
		t.Fatal(err)
	}
	if st := conn.ConnectionState(); st.NegotiatedProtocol != "http/1.1" || st.Version < tls.VersionTLS12 {
		t.Fatalf("negotiated %q version %x", st.NegotiatedProtocol, st.Version)
	}
	// ClientConfig with an IP address and no ServerName has no name to
	// verify against: hostname-mismatch, not a silent pass.
	cfg, err := ClientConfig(&ClientOptions{CAFile: certFile})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := tls.Dialer{Config: cfg}
	if conn, err := d.DialContext(ctx, "tcp", s.addr()); err == nil {
		_ = conn.Close()
		t.Fatal("IP dial without ServerName verified")
	} else if ve := verificationError(t, err); !slices.Equal(ve.Kinds(), []ErrorKind{HostnameMismatch}) ||
		!strings.Contains(ve.Unignored[0].Detail, "no server name") {
		t.Fatalf("kinds %v: %v", ve.Kinds(), err)
	}
}
