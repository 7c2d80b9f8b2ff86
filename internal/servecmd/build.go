package servecmd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/certs"
	"github.com/wssproxy/wssproxy/certs/etcdstorage"
	"github.com/wssproxy/wssproxy/internal/cli"
	"github.com/wssproxy/wssproxy/internal/config"
	"github.com/wssproxy/wssproxy/proxy"
	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/tlsconf/psk"
	"github.com/wssproxy/wssproxy/ws"
	"github.com/wssproxy/wssproxy/ws/echo"
)

// builder turns listener configurations into servers. It shares the
// built-in echo server and dev CAs between listeners.
type builder struct {
	log      zerolog.Logger
	echoURL  string
	echo     *echo.Server // the built-in echo server, if started
	devCAs   map[string]*certs.DevCAResult
	devHosts map[string][]string // dev CA folder -> hosts of every listener using it
	// Shared by every listener: the paused handshakes, the metrics, the
	// connection ids and the admin API that lists them.
	registry *tlsconf.Registry
	metrics  *proxy.Metrics
	nextID   func() uint64
	admin    *adminAPI
	// store is the trust store (nil in --check when it failed to open):
	// an etcd one also holds the PSK identities of psk_store listeners.
	store *trustStore
	// acmeEtcd is the ACME storage on the etcd store, made once.
	acmeEtcd *etcdstorage.Storage
	// check: build for serve --check (no development CA is created).
	check bool
}

// close stops the built-in echo server (its connections get 1001) and
// joins it. It returns the error that had stopped it early, if any;
// connections aborted after the grace period are only logged.
func (b *builder) close() error {
	if b.echo == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := b.echo.Shutdown(ctx, ws.StatusGoingAway, "shutting down"); err != nil {
		if serr := b.echo.Err(); serr != nil {
			return fmt.Errorf("built-in echo server: %w", serr)
		}
		b.log.Warn().Err(err).Msg("built-in echo server: connections aborted at shutdown")
	}
	return nil
}

// echoDone is closed if the built-in echo server stops serving (its
// listener failed); nil (never ready) without one.
func (b *builder) echoDone() <-chan struct{} {
	if b.echo == nil {
		return nil
	}
	return b.echo.Done()
}

// listener builds one listener's TLS, routes and proxy.Server.
func (b *builder) listener(lc *config.Listener) (*builtListener, error) {
	bl := &builtListener{cfg: lc}
	var err error
	if bl.tls, bl.src, bl.pin, bl.caFile, err = b.listenerTLS(lc); err != nil {
		return nil, err
	}
	for i := range lc.Routes {
		r, err := b.route(&lc.Routes[i])
		if err != nil {
			return nil, config.WithWhere(lc.Routes[i].Where, err)
		}
		bl.routes = append(bl.routes, r)
	}
	var pskCfg *psk.ServerConfig
	if lc.PSKFile != "" {
		kf, err := psk.OpenKeyFile(lc.PSKFile, &psk.KeyFileOptions{Logger: b.log})
		if err != nil {
			return nil, fmt.Errorf("PSK file: %w", err)
		}
		pskCfg = &psk.ServerConfig{GetKey: kf.GetKey, Logger: b.log, IdentityHint: []byte(lc.PSKIdentityHint)}
		if lc.PSKTLS12 {
			pskCfg.MinVersion = psk.VersionTLS12
		}
	}
	if lc.PSKStore {
		if b.store == nil || b.store.etcd == nil {
			return nil, errors.New("psk_store (--psk-from-store) needs the etcd trust store (store: etcd://HOST:PORT,…/PREFIX): the file store holds no PSK identities")
		}
		// Answered from the store's memory, which its etcd watch keeps
		// current: identities added or removed apply at once.
		pskCfg = &psk.ServerConfig{GetKey: b.store.etcd.GetKey, Logger: b.log, IdentityHint: []byte(lc.PSKIdentityHint)}
		if lc.PSKTLS12 {
			pskCfg.MinVersion = psk.VersionTLS12
		}
	}
	bl.psk = pskCfg != nil
	bl.srv, err = proxy.New(&proxy.Options{
		Routes: bl.routes, TLS: bl.tls, PSK: pskCfg, MaxConnections: lc.MaxConnections, MaxHeaderBytes: int(lc.MaxHeaderBytes),
		HandshakeTimeout: lc.HandshakeTimeout.D(), CloseTimeout: lc.CloseTimeout.D(), TrustedProxies: lc.TrustedProxies, TrustedForwarders: lc.TrustedForwarders,
		Logger:  b.log.With().Str("listener", lc.Name).Logger(),
		Metrics: b.metrics, NextID: b.nextID,
	})
	return bl, err
}

// offIfZero maps a configured 0 ("off") to the negative value proxy.Route
// takes for "none" (its zero value means the default).
func offIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// unlimitedIfZero maps a configured rate of 0 ("no limit") to the
// negative value proxy.Route takes for it.
func unlimitedIfZero(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// route builds a proxy.Route; an empty upstream starts the built-in echo
// server (once).
func (b *builder) route(rc *config.Route) (proxy.Route, error) {
	r := proxy.Route{
		Name: rc.Name, Host: rc.Host, Path: rc.Path, StripPath: rc.StripPath, Upstream: rc.Upstream,
		UpstreamTimeout: rc.UpstreamTimeout.D(), AllowedOrigins: rc.AllowedOrigins, NoExtensions: rc.NoExtensions,
		MaxFrameSize: int64(rc.MaxFrameSize), MaxMessageSize: int64(rc.MaxMessageSize), OutgoingFrameSize: int(rc.OutgoingFrameSize),
		PingInterval: offIfZero(rc.PingInterval.D()), PongTimeout: rc.PongTimeout.D(), IdleTimeout: rc.IdleTimeout.D(),
		FrameTimeout: offIfZero(rc.FrameTimeout.D()), WriteTimeout: offIfZero(rc.WriteTimeout.D()),
		MaxControlRate: unlimitedIfZero(rc.MaxControlRate), MaxTinyFrameRate: unlimitedIfZero(rc.MaxTinyFrameRate),
	}
	if rc.Upstream == "" {
		if b.echoURL == "" {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return r, fmt.Errorf("starting the built-in echo server: %w", err)
			}
			b.echo = startEmbeddedEcho(ln, b.log)
			b.echoURL = "ws://" + ln.Addr().String() + "/"
		}
		r.Upstream = b.echoURL
		return r, nil
	}
	if rc.UpstreamPSKIdentity != "" {
		getKey, err := psk.ClientKeyFile([]byte(rc.UpstreamPSKIdentity), rc.UpstreamPSKKeyFile)
		if err != nil {
			return r, fmt.Errorf("upstream PSK: %w", err)
		}
		r.UpstreamPSK = &psk.ClientConfig{GetKey: getKey}
		if rc.UpstreamPSKTLS12 {
			r.UpstreamPSK.MinVersion = psk.VersionTLS12
		}
	} else {
		client, err := upstreamTLS(rc, b.log, b.pausePolicy(rc, r.EffectiveName()))
		if err != nil {
			return r, err
		}
		r.UpstreamTLS = client
		if rc.Pause && rc.UpstreamTimeout == 0 {
			// The upstream timeout covers the pause: leave time to dial
			// after it.
			r.UpstreamTimeout = rc.EffectivePauseTimeout() + 30*time.Second
		}
	}
	var err error
	scheme := "ws"
	if strings.HasPrefix(rc.Upstream, "wss:") {
		scheme = "wss"
	}
	if r.UpstreamDial, err = cli.ProxyDialer("upstream proxy", rc.UpstreamProxy, scheme); err != nil {
		return r, err
	}
	return r, nil
}

// startEmbeddedEcho runs the built-in echo server on ln (a loopback
// port); builder.close joins it.
func startEmbeddedEcho(ln net.Listener, log zerolog.Logger) *echo.Server {
	h := &echo.Handler{Accept: &ws.AcceptOptions{Options: ws.Options{MaxIncomingFrameSize: -1, MaxIncomingMessageSize: ws.DefaultMaxIncomingMessageSize}}, Logger: log}
	return echo.Start(ln, h, nil)
}

// listenerTLS builds the client leg's TLS from the listener's certificate
// source and client-certificate verification; nil for plain ws. It returns
// the source (for reloads), the certificate's pin and, for the dev CA, the
// CA file to trust.
func (b *builder) listenerTLS(lc *config.Listener) (*tls.Config, certs.Source, string, string, error) {
	var (
		src         certs.Source
		pin, caFile string
	)
	switch {
	case lc.DevCert.Enabled && b.check:
		return nil, nil, "", "", nil
	case lc.DevCert.Enabled:
		r, err := b.devCA(lc)
		if err != nil {
			return nil, nil, "", "", fmt.Errorf("development certificate: %w", err)
		}
		fsrc, err := certs.NewFileSource(&certs.FileOptions{CertFile: r.CertFile, KeyFile: r.KeyFile, Logger: b.log})
		if err != nil {
			return nil, nil, "", "", err
		}
		src, pin, caFile = fsrc, r.SPKIPin, r.CACertFile
	case lc.CertFile != "":
		fsrc, err := certs.NewFileSource(&certs.FileOptions{CertFile: lc.CertFile, KeyFile: lc.KeyFile, Logger: b.log})
		if err != nil {
			return nil, nil, "", "", err
		}
		src, pin = fsrc, tlsconf.SPKIPin(fsrc.Leaf())
	case lc.ACME != nil:
		a := lc.ACME
		o := &certs.ACMEOptions{
			Domains: a.Domains, OnDemandAllow: a.OnDemand, Email: a.Email, CA: a.CA,
			StorageDir: a.Storage, TLSPort: portOf(lc.Listen), ReusePrivateKeys: a.ReuseKey,
			ClientsPinSPKI: a.ClientsPinSPKI, RenewalWindowRatio: a.RenewalWindowRatio,
			DisableHTTP01: a.HTTP == "", HTTPPort: portOf(a.HTTP), DisableTLSALPN01: a.DisableTLSALPN,
			Logger: b.log,
		}
		if host, _, err := net.SplitHostPort(lc.Listen); err == nil && host != "" {
			// certmagic's own challenge listeners, if it starts any, stay
			// on the listener's address.
			o.ListenHost = host
		}
		if b.store != nil && b.store.etcd != nil {
			st, err := b.acmeStorage()
			if err != nil {
				return nil, nil, "", "", err
			}
			o.Storage = st
		}
		if a.CARoot != "" {
			pem, err := os.ReadFile(a.CARoot)
			if err != nil {
				return nil, nil, "", "", fmt.Errorf("ACME CA root: %w", err)
			}
			o.RootCAs = x509.NewCertPool()
			if !o.RootCAs.AppendCertsFromPEM(pem) {
				return nil, nil, "", "", fmt.Errorf("ACME CA root %s: no PEM certificate", a.CARoot)
			}
		}
		asrc, err := certs.NewACMESource(o)
		if err != nil {
			return nil, nil, "", "", err
		}
		src = asrc
	default:
		return nil, nil, "", "", nil
	}
	// The source's GetCertificate goes in first, so that the per-client
	// configurations tlsconf derives for client-certificate checks keep it.
	plain, err := tlsconf.ServerConfig(&tlsconf.ServerOptions{Base: certs.TLSConfig(src, &tls.Config{NextProtos: []string{"http/1.1"}})})
	if err != nil {
		return nil, nil, "", "", err
	}
	cc := lc.ClientCerts
	mode := clientCertModes[cc.Mode]
	if mode == tlsconf.ClientCertNone {
		return plain, src, pin, caFile, nil
	}
	pol, err := verifyConfig(cc.Verify).policy("client certificate", b.log)
	if err != nil {
		return nil, nil, "", "", err
	}
	cfg, err := tlsconf.ServerConfig(&tlsconf.ServerOptions{Base: plain, ClientCerts: mode, ClientCAFile: cc.CAFile, Policy: pol})
	if err != nil {
		return nil, nil, "", "", fmt.Errorf("client certificates: %w", err)
	}
	if _, ok := src.(*certs.ACMESource); ok {
		// TLS-ALPN-01 validation handshakes from the CA carry no client
		// certificate: answer them without asking for one.
		perClient := cfg.GetConfigForClient
		cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == "acme-tls/1" {
				return plain, nil
			}
			return perClient(hello)
		}
	}
	return cfg, src, pin, caFile, nil
}

// devCA returns the dev CA for the listener's folder, creating it once per
// folder with the hosts every listener sharing it asks for.
func (b *builder) devCA(lc *config.Listener) (*certs.DevCAResult, error) {
	if r, ok := b.devCAs[lc.DevCert.Dir]; ok {
		return r, nil
	}
	r, err := certs.DevCA(&certs.DevCAOptions{Dir: lc.DevCert.Dir, Hosts: b.devHosts[lc.DevCert.Dir], Logger: b.log})
	if err != nil {
		return nil, err
	}
	b.devCAs[lc.DevCert.Dir] = r
	return r, nil
}

func portOf(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	var n int
	fmt.Sscanf(p, "%d", &n)
	return n
}

// policy builds the tlsconf policy; what names the peer in errors.
// clientCertModes maps config.ClientCerts.Mode to tlsconf's.
var clientCertModes = map[string]tlsconf.ClientCertMode{
	"": tlsconf.ClientCertNone, "none": tlsconf.ClientCertNone,
	"optional": tlsconf.ClientCertOptional, "required": tlsconf.ClientCertRequired,
}

// verifyConfig is a config.Verify that builds its tlsconf policy.
type verifyConfig config.Verify

func (v verifyConfig) policy(what string, log zerolog.Logger) (tlsconf.Policy, error) {
	return config.Verify(v).Policy(what, log)
}

// pausePolicy returns what a pausing route adds to its tlsconf policy:
// the shared registry, the timeout and the hook logging how to resume.
func (b *builder) pausePolicy(rc *config.Route, route string) func(*tlsconf.Policy) {
	if !rc.Pause {
		return nil
	}
	return func(pol *tlsconf.Policy) {
		pol.Pause = tlsconf.PauseOnSSLErrors
		pol.Registry = b.registry
		pol.PauseTimeout = rc.EffectivePauseTimeout()
		pol.MaxPending = rc.PauseMaxPending
		pol.OnPause = pauseLogger(b.log, route, b.metrics, b.admin)
	}
}

// upstreamTLS builds the tlsconf client for a route's wss upstream; pause,
// if set, completes the policy.
func upstreamTLS(rc *config.Route, log zerolog.Logger, pause func(*tlsconf.Policy)) (*tlsconf.Client, error) {
	pol, err := verifyConfig(rc.UpstreamVerify).policy("upstream "+rc.Upstream, log)
	if err != nil {
		return nil, err
	}
	if pause != nil {
		pause(&pol)
	}
	// Each route has a Client, and so a session cache, of its own.
	cacheSize := tlsconf.DefaultSessionCacheSize
	if rc.NoSessionResumption {
		cacheSize = 0
	}
	c, err := tlsconf.NewClient(&tlsconf.ClientOptions{
		CAFile: rc.UpstreamCA, ServerName: rc.UpstreamSNI, VerifyName: rc.UpstreamVerifyName,
		CertFile: rc.UpstreamCert, KeyFile: rc.UpstreamKey, Policy: pol, SessionCacheSize: cacheSize,
	})
	if err != nil {
		return nil, fmt.Errorf("upstream TLS: %w", err)
	}
	return c, nil
}

// acmeStorage returns the ACME storage on the fleet's etcd (one per
// builder, shared by its listeners): every instance on the store shares
// accounts, certificates and locks, so each certificate is ordered and
// renewed once.
func (b *builder) acmeStorage() (*etcdstorage.Storage, error) {
	if b.acmeEtcd != nil {
		return b.acmeEtcd, nil
	}
	client := b.store.etcd.Client()
	if client == nil {
		return nil, errors.New("ACME on the etcd trust store: etcd is unreachable and the client could not authenticate yet; start again when etcd answers")
	}
	st, err := etcdstorage.New(client, b.store.etcd.Prefix(), &etcdstorage.Options{Logger: b.log.With().Str("component", "acme-storage").Logger()})
	if err != nil {
		return nil, fmt.Errorf("ACME storage on etcd: %w", err)
	}
	b.acmeEtcd = st
	b.log.Info().Str("store", b.store.String()).Msg("ACME: accounts, certificates and locks kept in etcd, shared by the fleet")
	return st, nil
}
