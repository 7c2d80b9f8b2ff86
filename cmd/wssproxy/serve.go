package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/certs"
	"github.com/wssproxy/wssproxy/proxy"
	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/ws"
	"github.com/wssproxy/wssproxy/ws/echo"
)

// serveConfig is the configuration of "wssproxy serve": one listener and
// one route, from flags.
type serveConfig struct {
	listen string
	// Client leg.
	certFile, keyFile string
	devCert           bool
	devCertDir        string
	acmeDomains       stringList
	acmeEmail         string
	acmeCA            string
	acmeStorage       string
	acmeCARoot        string
	acmeHTTP          string
	acmeOnDemand      stringList
	acmeReuseKey      bool
	// Upstream leg; "" means the built-in echo server.
	upstream        string
	upstreamCA      string
	upstreamPins    stringList
	upstreamPinOnly bool
	upstreamIgnore  stringList
	upstreamInsec   bool
	upstreamSNI     string
	upstreamProxy   string
	// Frames and HTTP.
	maxFrame, maxMessage byteSize
	outgoingFrame        byteSize
	pingInterval         time.Duration
	idleTimeout          time.Duration
	allowedOrigins       stringList
	maxConnections       int
	grace                time.Duration
	log                  logFlags
}

const serveUsage = `Usage: wssproxy serve [flags]

Relays WebSocket connections from a listener (ws, or wss with a certificate)
to an upstream (ws or wss, verified, pinned or with an ignore policy).

With no listener, certificate or upstream flag it runs the embedded default: wss on 127.0.0.1:8443
with a development certificate (a local CA created once under the state
directory), relaying to the built-in echo server; it prints the URL, the
certificate's pin and a command to try it.

--listen alone serves plain ws; --cert/--key, --acme-domain or --dev-cert
make it wss. Without --upstream the built-in echo server is the upstream.

Flags:
`

func parseServeFlags(args []string, stderr io.Writer) (serveConfig, error) {
	var c serveConfig
	fs := flag.NewFlagSet("wssproxy serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), serveUsage); fs.PrintDefaults() }
	fs.StringVar(&c.listen, "listen", "", "address to listen on (default 127.0.0.1:8443 for the embedded default)")
	fs.StringVar(&c.certFile, "cert", "", "PEM certificate chain for wss (reloaded on change and SIGHUP)")
	fs.StringVar(&c.keyFile, "key", "", "PEM private key for --cert")
	fs.BoolVar(&c.devCert, "dev-cert", false, "serve wss with a certificate from the local development CA")
	fs.StringVar(&c.devCertDir, "dev-cert-dir", "", "folder of the development CA (default: the state directory's devca)")
	fs.Var(&c.acmeDomains, "acme-domain", "obtain the wss certificate for this domain over ACME (repeatable)")
	fs.StringVar(&c.acmeEmail, "acme-email", "", "ACME account contact e-mail")
	fs.StringVar(&c.acmeCA, "acme-ca", certs.LetsEncryptProduction, "ACME directory URL")
	fs.StringVar(&c.acmeStorage, "acme-storage", "", "ACME storage folder (default: the state directory's acme)")
	fs.StringVar(&c.acmeCARoot, "acme-ca-root", "", "PEM file of roots for the ACME server's HTTPS (a private CA; default: system roots)")
	fs.StringVar(&c.acmeHTTP, "acme-http", "", "also answer HTTP-01 challenges on this plain-HTTP address (port 80 as the CA sees it); default: TLS-ALPN-01 on --listen only")
	fs.Var(&c.acmeOnDemand, "acme-on-demand", "obtain certificates during handshakes for this name or *.zone (repeatable; never for other names)")
	fs.BoolVar(&c.acmeReuseKey, "acme-reuse-key", false, "keep the private key across renewals (for clients that pin the SPKI)")
	fs.StringVar(&c.upstream, "upstream", "", "ws:// or wss:// URL to relay to (default: the built-in echo server)")
	fs.StringVar(&c.upstreamCA, "upstream-ca", "", "PEM file of CAs to verify a wss upstream with (default: system roots)")
	fs.Var(&c.upstreamPins, "upstream-pin", "pin the upstream's certificate: sha256//<base64 SPKI>, hex, or cert-sha256:<hex> (repeatable)")
	fs.BoolVar(&c.upstreamPinOnly, "upstream-pin-only", false, "trust the pins alone, without CA verification (self-signed upstreams)")
	fs.Var(&c.upstreamIgnore, "upstream-ignore-ssl-error", "accept this upstream SSL error: KIND or KIND:SHA256 (repeatable)")
	fs.BoolVar(&c.upstreamInsec, "upstream-insecure", false, "accept every upstream SSL error except a pin mismatch (insecure, logged)")
	fs.StringVar(&c.upstreamProxy, "upstream-proxy", "direct", "reach the upstream through this HTTP CONNECT or SOCKS5 proxy URL (http://, https://, socks5://, socks5h://; user:pass@ allowed), \"env\" for HTTPS_PROXY/ALL_PROXY/NO_PROXY, or \"direct\"")
	fs.StringVar(&c.upstreamSNI, "upstream-sni", "", "server name sent to and verified for a wss upstream (default: the URL's host)")
	c.maxFrame, c.maxMessage, c.outgoingFrame = ws.DefaultMaxIncomingFrameSize, ws.DefaultMaxIncomingMessageSize, ws.DefaultOutgoingFrameSize
	fs.Var(&c.maxFrame, "max-frame-size", "largest frame either leg may send (bytes, or with KiB/MiB/GiB; -1: no limit); more closes it with 1009")
	fs.Var(&c.maxMessage, "max-message-size", "largest message either leg may send; more closes it with 1009")
	fs.Var(&c.outgoingFrame, "outgoing-frame-size", "relayed frames larger than this are split")
	fs.DurationVar(&c.pingInterval, "ping-interval", 0, "send keepalive pings on each leg this often (0: off); a leg that does not answer in time is dropped")
	fs.DurationVar(&c.idleTimeout, "idle-timeout", 0, "close both legs with 1001 after this long without data (0: never)")
	fs.Var(&c.allowedOrigins, "allowed-origin", "allow only this Origin, e.g. https://app.example (repeatable; others get 403)")
	fs.IntVar(&c.maxConnections, "max-connections", 10000, "connections served at once; more wait")
	fs.DurationVar(&c.grace, "grace", 10*time.Second, "on SIGTERM/SIGINT, how long to wait for connections to close after sending 1001")
	fs.StringVar(&c.log.format, "log-format", "", "json or console (default: console on a terminal, else json)")
	fs.StringVar(&c.log.level, "log-level", "info", "trace, debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.listen == "" && c.upstream == "" && c.certFile == "" && c.keyFile == "" && len(c.acmeDomains) == 0 && len(c.acmeOnDemand) == 0 {
		// The embedded default (logging and frame flags may still be set).
		c.devCert = true
	}
	if c.listen == "" {
		c.listen = "127.0.0.1:8443"
	}
	sources := 0
	acme := len(c.acmeDomains) > 0 || len(c.acmeOnDemand) > 0
	for _, set := range []bool{c.certFile != "" || c.keyFile != "", c.devCert, acme} {
		if set {
			sources++
		}
	}
	switch {
	case sources > 1:
		return c, errors.New("choose one certificate source: --cert/--key, --dev-cert or --acme-domain")
	case (c.certFile == "") != (c.keyFile == ""):
		return c, errors.New("--cert and --key go together")
	case !acme && (c.acmeHTTP != "" || c.acmeCARoot != "" || c.acmeReuseKey || c.acmeEmail != "" || c.acmeStorage != ""):
		return c, errors.New("ACME flags need --acme-domain or --acme-on-demand")
	case c.maxConnections <= 0:
		return c, fmt.Errorf("--max-connections must be positive, not %d", c.maxConnections)
	case c.outgoingFrame <= 0:
		return c, fmt.Errorf("--outgoing-frame-size must be positive, not %d", c.outgoingFrame)
	case c.maxFrame == 0 || c.maxMessage == 0:
		return c, errors.New("--max-frame-size and --max-message-size must not be 0 (use -1 for no limit)")
	case c.pingInterval < 0 || c.idleTimeout < 0:
		return c, errors.New("--ping-interval and --idle-timeout must not be negative")
	case c.upstream == "" && (c.upstreamCA != "" || len(c.upstreamPins) > 0 || len(c.upstreamIgnore) > 0 || c.upstreamInsec || c.upstreamProxy != "direct"):
		return c, errors.New("upstream flags need --upstream")
	case c.upstreamInsec && len(c.upstreamIgnore) > 0:
		return c, errors.New("--upstream-insecure already ignores every error; drop --upstream-ignore-ssl-error")
	case c.upstreamPinOnly && len(c.upstreamPins) == 0:
		return c, errors.New("--upstream-pin-only needs at least one --upstream-pin")
	}
	return c, nil
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseServeFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "wssproxy serve: %v\n", err)
		return 2
	}
	log, err := cfg.log.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "wssproxy serve: %v\n", err)
		return 2
	}
	if err := serve(ctx, cfg, stdout, log); err != nil {
		log.Error().Err(err).Msg("serve failed")
		fmt.Fprintf(stderr, "wssproxy serve: %v\n", err)
		return 1
	}
	return 0
}

// serve runs the proxy until ctx ends (SIGTERM), then drains.
func serve(ctx context.Context, cfg serveConfig, stdout io.Writer, log zerolog.Logger) error {
	route := proxy.Route{
		Name:              "default",
		Upstream:          cfg.upstream,
		MaxFrameSize:      int64(cfg.maxFrame),
		MaxMessageSize:    int64(cfg.maxMessage),
		OutgoingFrameSize: int(cfg.outgoingFrame),
		PingInterval:      cfg.pingInterval,
		IdleTimeout:       cfg.idleTimeout,
		AllowedOrigins:    cfg.allowedOrigins,
	}
	var bg sync.WaitGroup
	defer bg.Wait()
	bgCtx, stopBG := context.WithCancel(context.Background())
	defer stopBG()

	if cfg.upstream == "" {
		url, stop, err := startEmbeddedEcho(log)
		if err != nil {
			return err
		}
		defer stop()
		route.Upstream = url
	} else {
		client, err := upstreamTLS(cfg, log)
		if err != nil {
			return err
		}
		route.UpstreamTLS = client
		scheme := "ws"
		if strings.HasPrefix(cfg.upstream, "wss:") {
			scheme = "wss"
		}
		if route.UpstreamDial, err = proxyDialer("--upstream-proxy", cfg.upstreamProxy, scheme); err != nil {
			return err
		}
	}

	tlsCfg, src, pin, caFile, err := listenerTLS(cfg, log)
	if err != nil {
		return err
	}
	if fsrc, ok := src.(*certs.FileSource); ok {
		bg.Go(func() { _ = fsrc.Watch(bgCtx) })
	}
	srv, err := proxy.New(&proxy.Options{Routes: []proxy.Route{route}, TLS: tlsCfg, MaxConnections: cfg.maxConnections, Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.listen, err)
	}
	if acme, ok := src.(*certs.ACMESource); ok {
		defer acme.Close()
		if cfg.acmeHTTP != "" {
			hln, err := net.Listen("tcp", cfg.acmeHTTP)
			if err != nil {
				return fmt.Errorf("--acme-http %s: %w", cfg.acmeHTTP, err)
			}
			hs := &http.Server{Handler: acme.HTTPHandler(http.NotFoundHandler()), ReadHeaderTimeout: 10 * time.Second}
			bg.Go(func() { _ = hs.Serve(hln) })
			defer hs.Close()
		}
		bg.Go(func() {
			if err := acme.Manage(bgCtx); err != nil && bgCtx.Err() == nil {
				log.Error().Err(err).Msg("ACME: obtaining certificates failed")
			}
		})
	}

	scheme := "ws"
	if tlsCfg != nil {
		scheme = "wss"
	}
	url := fmt.Sprintf("%s://%s/", scheme, ln.Addr())
	fmt.Fprintf(stdout, "wssproxy: serving %s -> %s\n", url, describeUpstream(cfg, route.Upstream))
	if pin != "" {
		fmt.Fprintf(stdout, "certificate pin: %s\n", pin)
	}
	if caFile != "" {
		fmt.Fprintf(stdout, "trust this CA:   %s\n", caFile)
		fmt.Fprintf(stdout, "try it:          wssproxy client %s --ca %s\n", url, caFile)
	} else if tlsCfg == nil {
		fmt.Fprintf(stdout, "try it:          wssproxy client %s\n", url)
	}
	log.Info().Str("url", url).Str("upstream", describeUpstream(cfg, route.Upstream)).Msg("serving")

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	bg.Go(func() {
		for {
			select {
			case <-bgCtx.Done():
				return
			case <-hup:
				if src == nil {
					log.Info().Msg("SIGHUP: nothing to reload")
					continue
				}
				if err := src.Reload(bgCtx); err != nil {
					log.Error().Err(err).Msg("SIGHUP: certificate reload failed; the old certificate stays")
				} else {
					log.Info().Str("source", src.Describe()).Msg("SIGHUP: certificate reloaded")
				}
			}
		}
	})

	serveCtx, stopServe := context.WithCancel(context.Background())
	defer stopServe()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(serveCtx, ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info().Dur("grace", cfg.grace).Msg("shutting down: closing every connection with 1001")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.grace)
	defer cancel()
	if err := srv.Shutdown(sctx, ws.StatusGoingAway, "proxy shutting down"); err != nil {
		log.Warn().Err(err).Msg("connections aborted after the grace period")
	}
	stopServe()
	return <-errc
}

func describeUpstream(cfg serveConfig, url string) string {
	if cfg.upstream == "" {
		return "built-in echo server"
	}
	return url
}

// startEmbeddedEcho runs the built-in echo server on a loopback port.
func startEmbeddedEcho(log zerolog.Logger) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("starting the built-in echo server: %w", err)
	}
	h := &echo.Handler{Accept: &ws.AcceptOptions{Options: ws.Options{MaxIncomingFrameSize: -1, MaxIncomingMessageSize: ws.DefaultMaxIncomingMessageSize}}, Logger: log}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Close()
		_ = h.CloseAll(ctx, ws.StatusGoingAway, "shutting down")
	}
	return "ws://" + ln.Addr().String() + "/", stop, nil
}

// listenerTLS builds the client leg's TLS from the chosen certificate
// source; nil for plain ws. It returns the source (for reloads), the
// certificate's pin and, for the dev CA, the CA file to trust.
func listenerTLS(cfg serveConfig, log zerolog.Logger) (*tls.Config, certs.Source, string, string, error) {
	base, err := tlsconf.ServerConfig(&tlsconf.ServerOptions{Base: &tls.Config{GetCertificate: noCertificate}})
	if err != nil {
		return nil, nil, "", "", err
	}
	switch {
	case cfg.devCert:
		r, err := certs.DevCA(&certs.DevCAOptions{Dir: cfg.devCertDir, Logger: log})
		if err != nil {
			return nil, nil, "", "", fmt.Errorf("development certificate: %w", err)
		}
		src, err := certs.NewFileSource(r.CertFile, r.KeyFile, &certs.FileOptions{Logger: log})
		if err != nil {
			return nil, nil, "", "", err
		}
		return certs.TLSConfig(src, base), src, r.SPKIPin, r.CACertFile, nil
	case cfg.certFile != "":
		src, err := certs.NewFileSource(cfg.certFile, cfg.keyFile, &certs.FileOptions{Logger: log})
		if err != nil {
			return nil, nil, "", "", err
		}
		return certs.TLSConfig(src, base), src, tlsconf.SPKIPin(src.Leaf()), "", nil
	case len(cfg.acmeDomains) > 0 || len(cfg.acmeOnDemand) > 0:
		o := &certs.ACMEOptions{
			Domains: cfg.acmeDomains, OnDemandAllow: cfg.acmeOnDemand, Email: cfg.acmeEmail, CA: cfg.acmeCA,
			StorageDir: cfg.acmeStorage, TLSPort: portOf(cfg.listen), ReusePrivateKeys: cfg.acmeReuseKey,
			DisableHTTP01: cfg.acmeHTTP == "", HTTPPort: portOf(cfg.acmeHTTP), Logger: log,
		}
		if cfg.acmeCARoot != "" {
			pem, err := os.ReadFile(cfg.acmeCARoot)
			if err != nil {
				return nil, nil, "", "", fmt.Errorf("--acme-ca-root: %w", err)
			}
			o.RootCAs = x509.NewCertPool()
			if !o.RootCAs.AppendCertsFromPEM(pem) {
				return nil, nil, "", "", fmt.Errorf("--acme-ca-root %s: no PEM certificate", cfg.acmeCARoot)
			}
		}
		src, err := certs.NewACMESource(o)
		if err != nil {
			return nil, nil, "", "", err
		}
		return certs.TLSConfig(src, base), src, "", "", nil
	}
	return nil, nil, "", "", nil
}

func noCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return nil, errors.New("no certificate configured")
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

// upstreamTLS builds the tlsconf client for a wss upstream from the flags.
func upstreamTLS(cfg serveConfig, log zerolog.Logger) (*tlsconf.Client, error) {
	pol := tlsconf.Policy{PinOnly: cfg.upstreamPinOnly, Logger: log}
	for _, s := range cfg.upstreamPins {
		p, err := tlsconf.ParsePin(s)
		if err != nil {
			return nil, fmt.Errorf("--upstream-pin: %w", err)
		}
		pol.Pins = append(pol.Pins, p)
	}
	switch {
	case cfg.upstreamInsec:
		pol.Ignore = tlsconf.IgnorePolicy{Mode: tlsconf.IgnoreAll}
		log.Warn().Msg("--upstream-insecure: upstream certificates are not verified (pins still are)")
	case len(cfg.upstreamIgnore) > 0:
		list, err := tlsconf.ParseExpectedErrors(cfg.upstreamIgnore)
		if err != nil {
			return nil, fmt.Errorf("--upstream-ignore-ssl-error: %w", err)
		}
		pol.Ignore = tlsconf.IgnorePolicy{Mode: tlsconf.IgnoreListed, Expected: list}
	}
	c, err := tlsconf.NewClient(&tlsconf.ClientOptions{CAFile: cfg.upstreamCA, ServerName: cfg.upstreamSNI, Policy: pol})
	if err != nil {
		return nil, fmt.Errorf("upstream TLS: %w", err)
	}
	return c, nil
}
