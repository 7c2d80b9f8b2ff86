package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
)

// ClientOptions configures the client side: how wssproxy verifies the
// servers it dials. The zero value (or nil) verifies against the system
// roots with the name from the dialled address.
type ClientOptions struct {
	// Base, if set, is cloned and completed: hooks and fields already set
	// are kept, except InsecureSkipVerify and VerifyConnection, which the
	// policy takes over (a Base VerifyConnection runs after the policy).
	Base *tls.Config
	// ServerName overrides the SNI name sent and, unless VerifyName is
	// set, the name the certificate is verified against. Empty means the
	// host of the dialled address.
	ServerName string
	// VerifyName, if set, is the name the certificate must be valid for,
	// independent of the SNI name sent.
	VerifyName string
	// CAFile names a PEM file of trust anchors. They replace the system
	// roots unless Policy.Roots is set, in which case they are added.
	CAFile string
	// CertFile and KeyFile name a PEM client certificate (chain) and key
	// for servers that ask for one.
	CertFile, KeyFile string
	// Policy is the verification model: ignore policy, pins, pause.
	Policy Policy
	// TOFU, if set, is trust on first use: keys remembered in a store
	// decide, and a first contact is decided by TOFU.Decide (see TOFU).
	// It is copied.
	TOFU *TOFU
	// SessionCacheSize, when positive, turns on TLS session resumption
	// (RFC 8446 §2.2; session tickets for TLS 1.2, RFC 5077) with a cache
	// of that many sessions (at most MaxSessionCacheSize; see
	// DefaultSessionCacheSize) that belongs to the Client: a handshake
	// to a server name the Client reached before may skip the
	// certificate exchange. 0 (the default) resumes nothing, unless Base
	// has a ClientSessionCache, which is then used under keys of this
	// Client's own. Sessions never pass between Clients.
	//
	// A resumed handshake is verified as a full one: crypto/tls calls
	// VerifyConnection, where the policy runs, on resumed sessions too,
	// with the certificate chain the server presented in the full
	// handshake the session comes from. Pins, the ignore policy, the
	// remembered pins of the Registry, TOFU's store, pauses and expiry
	// are checked against that chain with the rules in force at the
	// time of the resumed handshake, so a pin revoked since, or an
	// error a pause accepted only once, refuses or pauses the resumed
	// handshake as it would a full one. What a resumed handshake cannot
	// see is a certificate the server changed while still accepting the
	// session (same ticket keys); a server that lost the session answers
	// with a full handshake, verified as usual. Base.VerifyPeerCertificate,
	// which crypto/tls skips on resumption, excludes resumption.
	//
	// With CAFile and without Policy.Roots (so every trust anchor is
	// known; not with TOFU), a resumed handshake whose chain, for the same
	// name, was found without any problem reuses that finding as long as
	// no certificate of the chain or of the anchors has started or
	// stopped being valid since (the only way the time changes the
	// answer): the chain is not verified again. The ignore policy,
	// remembered pins and pauses still run on it.
	SessionCacheSize int
}

// ClientCertMode selects whether a server asks for client certificates.
type ClientCertMode uint8

const (
	// ClientCertNone (the default) asks for no client certificate.
	ClientCertNone ClientCertMode = iota
	// ClientCertOptional asks for one and verifies it with the policy when
	// the client sends one.
	ClientCertOptional
	// ClientCertRequired asks for one and reports no-peer-certificate when
	// the client sends none (failing unless the policy ignores it).
	ClientCertRequired
)

// ServerOptions configures the server side.
type ServerOptions struct {
	// Base, if set, is cloned and completed; see ClientOptions.Base. It
	// may supply Certificates or GetCertificate.
	Base *tls.Config
	// CertFile and KeyFile name the PEM certificate (chain) and key, used
	// when Base has no certificate source.
	CertFile, KeyFile string
	// NextProtos are the ALPN protocols; nil means ["http/1.1"].
	NextProtos []string
	// ClientCerts selects client certificate verification, with Policy.
	ClientCerts ClientCertMode
	// ClientCAFile names a PEM file of trust anchors for client
	// certificates; see ClientOptions.CAFile.
	ClientCAFile string
	// Policy verifies client certificates (extended key usage
	// clientAuth, no host name) with the same model as the client side.
	Policy Policy
}

// Modern defaults. TLS 1.3 suites are not configurable in crypto/tls and
// are all AEAD; these are the TLS 1.2 ones (ECDHE + AEAD only).
var (
	defaultCipherSuites = []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	}
	defaultCurves = []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256}
)

// DefaultCipherSuites returns the TLS 1.2 suites the builders set.
func DefaultCipherSuites() []uint16 { return slices.Clone(defaultCipherSuites) }

// DefaultCurves returns the key exchanges the builders prefer: the
// X25519+ML-KEM-768 hybrid, X25519 and P-256.
func DefaultCurves() []tls.CurveID { return slices.Clone(defaultCurves) }

// defaultsOn returns a clone of base (an empty config when nil) with
// the package's defaults applied where base leaves them unset.
func defaultsOn(base *tls.Config) *tls.Config {
	c := &tls.Config{}
	if base != nil {
		c = base.Clone()
	}
	applyDefaults(c)
	return c
}

func applyDefaults(c *tls.Config) {
	if c.MinVersion < tls.VersionTLS12 {
		c.MinVersion = tls.VersionTLS12
	}
	if c.CipherSuites == nil {
		c.CipherSuites = DefaultCipherSuites()
	}
	if c.CurvePreferences == nil {
		c.CurvePreferences = DefaultCurves()
	}
}

// Client is a built client-side TLS setup. Config binds verification
// (and so pauses) to a context; Handshake and DialContext use it. A Client
// is safe for concurrent use.
type Client struct {
	base       *tls.Config
	v          *verifier
	verifyName string
	userVerify func(tls.ConnectionState) error
}

// NewClient builds a Client from opts (nil means defaults). opts is copied;
// later changes to it have no effect.
func NewClient(opts *ClientOptions) (*Client, error) {
	var o ClientOptions
	if opts != nil {
		o = *opts
	}
	base := defaultsOn(o.Base)
	if o.ServerName != "" {
		base.ServerName = o.ServerName
	}
	pol := o.Policy
	if o.CAFile != "" {
		if err := addCAFile(&pol, o.CAFile); err != nil {
			return nil, err
		}
	}
	if o.CertFile != "" || o.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tlsconf: client certificate: %w", err)
		}
		base.Certificates = append(base.Certificates, cert)
	}
	v, err := newVerifier(&pol, x509.ExtKeyUsageServerAuth, base.Time)
	if err != nil {
		return nil, err
	}
	if base.ClientSessionCache, err = sessionCacheFor(base, o.SessionCacheSize); err != nil {
		return nil, err
	}
	if base.ClientSessionCache != nil && o.Policy.Roots == nil && o.CAFile != "" && o.TOFU == nil {
		// Every anchor is known (no system roots): resumed handshakes may
		// reuse a clean verification while it cannot have changed.
		v.memo = &verifyMemo{anchors: slices.Clone(pol.RootCerts)}
	}
	if o.TOFU != nil {
		if err := o.TOFU.validate(&pol); err != nil {
			return nil, err
		}
		t := *o.TOFU
		v.tofu = &t
	}
	c := &Client{base: base, v: v, verifyName: o.VerifyName, userVerify: base.VerifyConnection}
	// The policy replaces crypto/tls's verification, which stops at the
	// first problem; VerifyConnection runs on every handshake, resumed
	// ones included.
	base.InsecureSkipVerify = true
	base.VerifyConnection = c.verifyFunc(context.Background(), base.ServerName, "")
	return c, nil
}

// ClientConfig returns a client *tls.Config for opts (see NewClient).
// Pauses it makes are bounded by the pause timeout only; use
// NewClient(opts).Config(ctx) to bind them to a connection's context. For
// IP-address peers without ServerName, use Client.Handshake or
// Client.DialContext, which know the address.
func ClientConfig(opts *ClientOptions) (*tls.Config, error) {
	c, err := NewClient(opts)
	if err != nil {
		return nil, err
	}
	return c.Config(context.Background()), nil
}

// Config returns a fresh *tls.Config for one connection whose verification
// (including pauses) is bound to ctx: when ctx ends, a paused handshake
// fails with ctx's error. crypto/tls gives VerifyConnection no context on
// the client side, so the binding is made by this per-connection clone.
func (c *Client) Config(ctx context.Context) *tls.Config {
	return c.configFor(ctx, "", "")
}

func (c *Client) configFor(ctx context.Context, host, peer string) *tls.Config {
	if ctx == nil {
		ctx = context.Background()
	}
	cfg := c.base.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	cfg.VerifyConnection = c.verifyFunc(ctx, cfg.ServerName, peer)
	return cfg
}

func (c *Client) verifyFunc(ctx context.Context, serverName, peer string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		name := c.verifyName
		if name == "" {
			name = serverName
		}
		if name == "" {
			name = cs.ServerName
		}
		if err := c.v.check(ctx, cs, name, peer, cs.ServerName, true); err != nil {
			return err
		}
		if c.userVerify != nil {
			return c.userVerify(cs)
		}
		return nil
	}
}

// Handshake runs a client TLS handshake over conn with a configuration
// bound to ctx; the name to verify defaults to the host of
// conn.RemoteAddr(). Cancelling ctx closes conn and ends a pause. On error
// conn is closed.
func (c *Client) Handshake(ctx context.Context, conn net.Conn, serverName string) (*tls.Conn, error) {
	peer := ""
	if ra := conn.RemoteAddr(); ra != nil {
		peer = ra.String()
	}
	host := serverName
	if host == "" {
		host, _, _ = net.SplitHostPort(peer)
	}
	tc := tls.Client(conn, c.configFor(ctx, host, peer))
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return tc, nil
}

// DialContext dials addr on network and runs Handshake with the host of
// addr as the server name (unless ServerName was set).
func (c *Client) DialContext(ctx context.Context, network, addr string) (*tls.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: %w", err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return c.Handshake(ctx, conn, host)
}

// ServerConfig returns a server *tls.Config for opts (nil means defaults,
// which fail: a certificate is required). It sets TLS 1.2 as the minimum,
// ECDHE+AEAD suites, X25519MLKEM768/X25519/P-256 and ALPN http/1.1. With
// ClientCerts set, client certificates are verified with opts.Policy in
// VerifyConnection, bound per connection to the handshake's context
// through GetConfigForClient (ClientHelloInfo.Context). opts is copied.
func ServerConfig(opts *ServerOptions) (*tls.Config, error) {
	var o ServerOptions
	if opts != nil {
		o = *opts
	}
	base := defaultsOn(o.Base)
	if base.NextProtos == nil {
		base.NextProtos = slices.Clone(o.NextProtos)
		if base.NextProtos == nil {
			base.NextProtos = []string{"http/1.1"}
		}
	}
	if o.CertFile != "" || o.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tlsconf: server certificate: %w", err)
		}
		base.Certificates = append(base.Certificates, cert)
	}
	if len(base.Certificates) == 0 && base.GetCertificate == nil && base.GetConfigForClient == nil {
		return nil, errors.New("tlsconf: server needs a certificate (CertFile/KeyFile or Base.Certificates/GetCertificate)")
	}
	if o.ClientCerts == ClientCertNone {
		return base, nil
	}
	pol := o.Policy
	if o.ClientCAFile != "" {
		if err := addCAFile(&pol, o.ClientCAFile); err != nil {
			return nil, err
		}
	}
	v, err := newVerifier(&pol, x509.ExtKeyUsageClientAuth, base.Time)
	if err != nil {
		return nil, err
	}
	// RequestClientCert: crypto/tls asks but does not verify; the policy
	// does, with the complete error list.
	// ClientCAs (a Base's is kept) is not filled from the policy's roots:
	// clients then send whatever certificate they have, so the policy
	// sees, reports and may pause on it instead of seeing no certificate.
	base.ClientAuth = tls.RequestClientCert
	required := o.ClientCerts == ClientCertRequired
	userVerify := base.VerifyConnection
	userGetConfig := base.GetConfigForClient
	inner := base.Clone()
	inner.GetConfigForClient = nil
	bind := func(ctx context.Context, peer string) func(tls.ConnectionState) error {
		return func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) > 0 || required || len(pol.Pins) > 0 {
				if err := v.check(ctx, cs, "", peer, cs.ServerName, false); err != nil {
					return err
				}
			}
			if userVerify != nil {
				return userVerify(cs)
			}
			return nil
		}
	}
	base.VerifyConnection = bind(context.Background(), "")
	base.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		cfg := inner
		if userGetConfig != nil {
			c, err := userGetConfig(hello)
			if err != nil {
				return nil, err
			}
			if c != nil {
				cfg = c
			}
		}
		cfg = cfg.Clone()
		peer := ""
		if hello.Conn != nil {
			peer = hello.Conn.RemoteAddr().String()
		}
		cfg.VerifyConnection = bind(hello.Context(), peer)
		return cfg, nil
	}
	return base, nil
}

// LoadCertificates reads every CERTIFICATE block of a PEM file, as
// ParseCertificates does; its errors name the file.
func LoadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tlsconf: %w", err)
	}
	certs, err := ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return certs, nil
}

// ErrNoCertificate means PEM data holds no CERTIFICATE block.
var ErrNoCertificate = errors.New("tlsconf: no CERTIFICATE block")

// ParseCertificates returns the certificate of every CERTIFICATE block of
// PEM data (a chain file, leaf first, or a CA bundle) in order, skipping
// blocks of other types. Without a CERTIFICATE block it fails with
// ErrNoCertificate; the error for a block that does not parse gives its
// position among the certificates, from 1.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("tlsconf: certificate %d: %w", len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, ErrNoCertificate
	}
	return out, nil
}

func addCAFile(pol *Policy, path string) error {
	certs, err := LoadCertificates(path)
	if err != nil {
		return fmt.Errorf("tlsconf: CA file: %w", err)
	}
	if pol.Roots != nil {
		pol.Roots = pol.Roots.Clone()
	} else {
		pol.Roots = x509.NewCertPool()
	}
	for _, c := range certs {
		pol.Roots.AddCert(c)
	}
	pol.RootCerts = append(slices.Clone(pol.RootCerts), certs...)
	return nil
}
