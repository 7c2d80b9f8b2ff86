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
	"net/netip"
	"os"
	"os/signal"
	"slices"
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

// serveConfig is the configuration of "wssproxy serve", from flags (one
// listener, one route) or from a --config file (any number of each).
type serveConfig struct {
	listeners []listenerConfig
	// grace bounds the drain on SIGTERM/SIGINT.
	grace time.Duration
	log   logFlags
}

// listenerConfig is one listening address with its certificate source and
// its routes.
type listenerConfig struct {
	// where locates the listener in a config file ("FILE:LINE:
	// listeners[0]"); "" for flags. Errors found while building carry it.
	where  string
	name   string
	listen string
	// Certificate source: at most one of files, dev CA or ACME; none
	// serves plain ws.
	certFile, keyFile string
	devCert           bool
	devCertDir        string
	devCertHosts      []string
	acme              *acmeConfig
	clientCerts       clientCertConfig
	trustedProxies    []netip.Prefix
	maxConnections    int
	maxHeaderBytes    int
	handshakeTimeout  time.Duration
	closeTimeout      time.Duration
	routes            []routeConfig
	// addrs are the addresses the file asks for, for the overlap check.
	addrs []addrUse
}

// acmeConfig is a listener's ACME certificate source.
type acmeConfig struct {
	domains, onDemand  []string
	email, ca          string
	caRoot, storage    string
	http               string // HTTP-01 listener address; "" = TLS-ALPN-01 only
	reuseKey           bool
	clientsPinSPKI     bool
	disableTLSALPN     bool
	renewalWindowRatio float64
}

// clientCertConfig is a listener's client-certificate verification.
type clientCertConfig struct {
	mode   tlsconf.ClientCertMode
	caFile string
	verify verifyConfig
}

// verifyConfig is the part of a tlsconf.Policy that configuration sets.
type verifyConfig struct {
	pins      []string
	pinOnly   bool
	pinMatch  tlsconf.PinMatch
	ignoreAll bool
	ignore    []string // KIND or KIND:SHA256
}

// routeConfig is one route of a listener.
type routeConfig struct {
	where      string // like listenerConfig.where
	line       int
	name       string
	host, path string
	stripPath  bool
	// upstream is the ws:// or wss:// URL; "" means the built-in echo
	// server (flags only).
	upstream           string
	upstreamCA         string
	upstreamSNI        string
	upstreamVerifyName string
	upstreamCert       string
	upstreamKey        string
	upstreamVerify     verifyConfig
	upstreamProxy      string // "direct", "env" or a proxy URL
	upstreamTimeout    time.Duration
	maxFrame           int64
	maxMessage         int64
	outgoingFrame      int
	pingInterval       time.Duration
	pongTimeout        time.Duration
	idleTimeout        time.Duration
	allowedOrigins     []string
}

// serveFlags are the flags of "wssproxy serve".
type serveFlags struct {
	configFile string
	listen     string
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
       wssproxy serve --config FILE [--log-format F] [--log-level L] [--grace D]

Relays WebSocket connections from a listener (ws, or wss with a certificate)
to an upstream (ws or wss, verified, pinned or with an ignore policy).

With no listener, certificate or upstream flag it runs the embedded default: wss on 127.0.0.1:8443
with a development certificate (a local CA created once under the state
directory), relaying to the built-in echo server; it prints the URL, the
certificate's pin and a command to try it.

--listen alone serves plain ws; --cert/--key, --acme-domain or --dev-cert
make it wss. Without --upstream the built-in echo server is the upstream.

--config FILE reads several listeners and routes from a YAML file (see
docs/config.md); it excludes the single-route flags, while --log-format,
--log-level and --grace override the file.

SIGTERM or SIGINT drains every listener (1001 to both legs, then up to
--grace); SIGHUP reloads every certificate source.

Flags:
`

// fileOverrides are the flags that may be combined with --config.
var fileOverrides = map[string]bool{"config": true, "log-format": true, "log-level": true, "grace": true}

// parseServeFlags parses the flags. With --config it returns the file's
// path and a serveConfig holding only the overriding flags (see
// applyOverrides); otherwise the single-listener configuration.
func parseServeFlags(args []string, stderr io.Writer) (serveConfig, string, map[string]bool, error) {
	var c serveFlags
	fs := flag.NewFlagSet("wssproxy serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), serveUsage); fs.PrintDefaults() }
	fs.StringVar(&c.configFile, "config", "", "YAML file of listeners and routes (excludes the listener, certificate, upstream and frame flags)")
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
	fs.DurationVar(&c.grace, "grace", defaultGrace, "on SIGTERM/SIGINT, how long to wait for connections to close after sending 1001")
	fs.StringVar(&c.log.format, "log-format", "", "json or console (default: console on a terminal, else json)")
	fs.StringVar(&c.log.level, "log-level", "info", "trace, debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return serveConfig{}, "", nil, err
	}
	if fs.NArg() > 0 {
		return serveConfig{}, "", nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.configFile != "" {
		var excluded []string
		fs.Visit(func(f *flag.Flag) {
			if !fileOverrides[f.Name] {
				excluded = append(excluded, "--"+f.Name)
			}
		})
		if len(excluded) > 0 {
			return serveConfig{}, "", nil, fmt.Errorf("--config excludes %s: set it in the file (only --log-format, --log-level and --grace may override the file)", strings.Join(excluded, ", "))
		}
		return serveConfig{grace: c.grace, log: c.log}, c.configFile, set, nil
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
		return serveConfig{}, "", nil, errors.New("choose one certificate source: --cert/--key, --dev-cert or --acme-domain")
	case (c.certFile == "") != (c.keyFile == ""):
		return serveConfig{}, "", nil, errors.New("--cert and --key go together")
	case !acme && (c.acmeHTTP != "" || c.acmeCARoot != "" || c.acmeReuseKey || c.acmeEmail != "" || c.acmeStorage != ""):
		return serveConfig{}, "", nil, errors.New("ACME flags need --acme-domain or --acme-on-demand")
	case c.maxConnections <= 0:
		return serveConfig{}, "", nil, fmt.Errorf("--max-connections must be positive, not %d", c.maxConnections)
	case c.outgoingFrame <= 0:
		return serveConfig{}, "", nil, fmt.Errorf("--outgoing-frame-size must be positive, not %d", c.outgoingFrame)
	case c.maxFrame == 0 || c.maxMessage == 0:
		return serveConfig{}, "", nil, errors.New("--max-frame-size and --max-message-size must not be 0 (use -1 for no limit)")
	case c.pingInterval < 0 || c.idleTimeout < 0:
		return serveConfig{}, "", nil, errors.New("--ping-interval and --idle-timeout must not be negative")
	case c.upstream == "" && (c.upstreamCA != "" || len(c.upstreamPins) > 0 || len(c.upstreamIgnore) > 0 || c.upstreamInsec || c.upstreamProxy != "direct"):
		return serveConfig{}, "", nil, errors.New("upstream flags need --upstream")
	case c.upstreamInsec && len(c.upstreamIgnore) > 0:
		return serveConfig{}, "", nil, errors.New("--upstream-insecure already ignores every error; drop --upstream-ignore-ssl-error")
	case c.upstreamPinOnly && len(c.upstreamPins) == 0:
		return serveConfig{}, "", nil, errors.New("--upstream-pin-only needs at least one --upstream-pin")
	}
	return c.config(), "", set, nil
}

// config turns the flags into the one-listener, one-route configuration.
func (c *serveFlags) config() serveConfig {
	l := listenerConfig{
		name: c.listen, listen: c.listen, certFile: c.certFile, keyFile: c.keyFile,
		devCert: c.devCert, devCertDir: c.devCertDir, maxConnections: c.maxConnections,
	}
	if len(c.acmeDomains) > 0 || len(c.acmeOnDemand) > 0 {
		l.acme = &acmeConfig{
			domains: c.acmeDomains, onDemand: c.acmeOnDemand, email: c.acmeEmail, ca: c.acmeCA,
			caRoot: c.acmeCARoot, storage: c.acmeStorage, http: c.acmeHTTP, reuseKey: c.acmeReuseKey,
		}
	}
	l.routes = []routeConfig{{
		name:           "default",
		upstream:       c.upstream,
		upstreamCA:     c.upstreamCA,
		upstreamSNI:    c.upstreamSNI,
		upstreamVerify: verifyConfig{pins: c.upstreamPins, pinOnly: c.upstreamPinOnly, ignoreAll: c.upstreamInsec, ignore: c.upstreamIgnore},
		upstreamProxy:  c.upstreamProxy,
		maxFrame:       int64(c.maxFrame),
		maxMessage:     int64(c.maxMessage),
		outgoingFrame:  int(c.outgoingFrame),
		pingInterval:   c.pingInterval,
		idleTimeout:    c.idleTimeout,
		allowedOrigins: c.allowedOrigins,
	}}
	return serveConfig{listeners: []listenerConfig{l}, grace: c.grace, log: c.log}
}

// defaultGrace is the drain period when neither --grace nor the file set one.
const defaultGrace = 10 * time.Second

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, file, set, err := parseServeFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil && file != "" {
		var fc serveConfig
		if fc, err = loadConfigFile(file); err == nil {
			// Flags given on the command line override the file.
			if set["log-format"] {
				fc.log.format = cfg.log.format
			}
			if set["log-level"] {
				fc.log.level = cfg.log.level
			}
			if set["grace"] {
				fc.grace = cfg.grace
			}
			cfg = fc
		}
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

// builtListener is a listener ready to serve: its proxy.Server, TLS and
// certificate source, and what to print about it.
type builtListener struct {
	cfg    *listenerConfig
	srv    *proxy.Server
	tls    *tls.Config
	src    certs.Source
	pin    string // SPKI pin of a file or dev-CA certificate
	caFile string // the dev CA to trust
	routes []proxy.Route
	ln     net.Listener
}

// serve runs every listener until ctx ends (SIGTERM), then drains them
// together. Everything is built and checked before the first listen.
func serve(ctx context.Context, cfg serveConfig, stdout io.Writer, log zerolog.Logger) error {
	var bg sync.WaitGroup
	defer bg.Wait()
	bgCtx, stopBG := context.WithCancel(context.Background())
	defer stopBG()

	b := &builder{log: log, devCAs: map[string]*certs.DevCAResult{}, devHosts: map[string][]string{}}
	defer b.close()
	for _, l := range cfg.listeners {
		if l.devCert {
			// Listeners sharing a dev CA folder share its leaf: it covers
			// the hosts of all of them.
			for _, h := range l.devCertHosts {
				if !slices.Contains(b.devHosts[l.devCertDir], h) {
					b.devHosts[l.devCertDir] = append(b.devHosts[l.devCertDir], h)
				}
			}
		}
	}
	var built []*builtListener
	for i := range cfg.listeners {
		bl, err := b.listener(&cfg.listeners[i])
		if err != nil {
			return withWhere(cfg.listeners[i].where, err)
		}
		built = append(built, bl)
	}

	for _, bl := range built {
		ln, err := net.Listen("tcp", bl.cfg.listen)
		if err != nil {
			for _, o := range built {
				if o.ln != nil {
					o.ln.Close()
				}
			}
			return withWhere(bl.cfg.where, fmt.Errorf("listening on %s: %w", bl.cfg.listen, err))
		}
		bl.ln = ln
	}

	var sources []certs.Source
	for _, bl := range built {
		if bl.src != nil {
			sources = append(sources, bl.src)
		}
		if fsrc, ok := bl.src.(*certs.FileSource); ok {
			bg.Go(func() { _ = fsrc.Watch(bgCtx) })
		}
		acme, ok := bl.src.(*certs.ACMESource)
		if !ok {
			continue
		}
		defer acme.Close()
		if addr := bl.cfg.acme.http; addr != "" {
			hln, err := net.Listen("tcp", addr)
			if err != nil {
				for _, o := range built {
					o.ln.Close()
				}
				return withWhere(bl.cfg.where, fmt.Errorf("ACME HTTP-01 listener %s: %w", addr, err))
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

	for _, bl := range built {
		bl.announce(stdout, log)
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	bg.Go(func() {
		for {
			select {
			case <-bgCtx.Done():
				return
			case <-hup:
				reloadSources(bgCtx, sources, log)
			}
		}
	})

	serveCtx, stopServe := context.WithCancel(context.Background())
	defer stopServe()
	errc := make(chan error, len(built))
	for _, bl := range built {
		go func() { errc <- bl.srv.Serve(serveCtx, bl.ln) }()
	}
	var firstErr error
	select {
	case firstErr = <-errc:
		// One listener failed (Serve returns nil only after Shutdown):
		// drain the others and report it.
		log.Error().Err(firstErr).Msg("a listener failed; shutting down")
	case <-ctx.Done():
	}
	log.Info().Dur("grace", cfg.grace).Int("listeners", len(built)).Msg("shutting down: closing every connection with 1001")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.grace)
	defer cancel()
	var drain sync.WaitGroup
	for _, bl := range built {
		drain.Go(func() {
			if err := bl.srv.Shutdown(sctx, ws.StatusGoingAway, "proxy shutting down"); err != nil {
				log.Warn().Err(err).Str("listener", bl.cfg.listen).Msg("connections aborted after the grace period")
			}
		})
	}
	drain.Wait()
	stopServe()
	n := len(built)
	if firstErr != nil {
		n--
	}
	for range n {
		if err := <-errc; err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// reloadSources re-reads every certificate source (SIGHUP) and logs each
// outcome; a failed reload keeps the old certificate.
func reloadSources(ctx context.Context, sources []certs.Source, log zerolog.Logger) {
	if len(sources) == 0 {
		log.Info().Msg("SIGHUP: nothing to reload")
		return
	}
	for _, src := range sources {
		if err := src.Reload(ctx); err != nil {
			log.Error().Err(err).Str("source", src.Describe()).Msg("SIGHUP: certificate reload failed; the old certificate stays")
		} else {
			log.Info().Str("source", src.Describe()).Msg("SIGHUP: certificate reloaded")
		}
	}
}

// announce prints where the listener serves what, with the pin and CA a
// client needs.
func (bl *builtListener) announce(stdout io.Writer, log zerolog.Logger) {
	scheme := "ws"
	if bl.tls != nil {
		scheme = "wss"
	}
	base := fmt.Sprintf("%s://%s", scheme, bl.ln.Addr())
	first := ""
	for i, r := range bl.routes {
		url := base + r.Path
		if r.Path == "" || r.Path == "/" {
			url = base + "/"
		}
		if first == "" {
			first = url
		}
		host := ""
		if r.Host != "" {
			host = " (host " + r.Host + ")"
		}
		up := r.Upstream
		if bl.cfg.routes[i].upstream == "" {
			up = "built-in echo server"
		}
		fmt.Fprintf(stdout, "wssproxy: serving %s%s -> %s\n", url, host, up)
		log.Info().Str("url", url).Str("host", r.Host).Str("upstream", up).Str("route", r.Name).Msg("serving")
	}
	if bl.pin != "" {
		fmt.Fprintf(stdout, "certificate pin: %s\n", bl.pin)
	}
	if bl.caFile != "" {
		fmt.Fprintf(stdout, "trust this CA:   %s\n", bl.caFile)
		fmt.Fprintf(stdout, "try it:          wssproxy client %s --ca %s\n", first, bl.caFile)
	} else if bl.tls == nil {
		fmt.Fprintf(stdout, "try it:          wssproxy client %s\n", first)
	}
}

func withWhere(where string, err error) error {
	if where == "" {
		return err
	}
	return fmt.Errorf("%s: %w", where, err)
}

// builder turns listener configurations into servers. It shares the
// built-in echo server and dev CAs between listeners.
type builder struct {
	log      zerolog.Logger
	echoURL  string
	stopEcho func()
	devCAs   map[string]*certs.DevCAResult
	devHosts map[string][]string // dev CA folder -> hosts of every listener using it
}

func (b *builder) close() {
	if b.stopEcho != nil {
		b.stopEcho()
	}
}

// listener builds one listener's TLS, routes and proxy.Server.
func (b *builder) listener(lc *listenerConfig) (*builtListener, error) {
	bl := &builtListener{cfg: lc}
	var err error
	if bl.tls, bl.src, bl.pin, bl.caFile, err = b.listenerTLS(lc); err != nil {
		return nil, err
	}
	for i := range lc.routes {
		r, err := b.route(&lc.routes[i])
		if err != nil {
			return nil, withWhere(lc.routes[i].where, err)
		}
		bl.routes = append(bl.routes, r)
	}
	bl.srv, err = proxy.New(&proxy.Options{
		Routes: bl.routes, TLS: bl.tls, MaxConnections: lc.maxConnections, MaxHeaderBytes: lc.maxHeaderBytes,
		HandshakeTimeout: lc.handshakeTimeout, CloseTimeout: lc.closeTimeout, TrustedProxies: lc.trustedProxies,
		Logger: b.log.With().Str("listener", lc.name).Logger(),
	})
	return bl, err
}

// route builds a proxy.Route; an empty upstream starts the built-in echo
// server (once).
func (b *builder) route(rc *routeConfig) (proxy.Route, error) {
	r := proxy.Route{
		Name: rc.name, Host: rc.host, Path: rc.path, StripPath: rc.stripPath, Upstream: rc.upstream,
		UpstreamTimeout: rc.upstreamTimeout, AllowedOrigins: rc.allowedOrigins,
		MaxFrameSize: rc.maxFrame, MaxMessageSize: rc.maxMessage, OutgoingFrameSize: rc.outgoingFrame,
		PingInterval: rc.pingInterval, PongTimeout: rc.pongTimeout, IdleTimeout: rc.idleTimeout,
	}
	if rc.upstream == "" {
		if b.echoURL == "" {
			url, stop, err := startEmbeddedEcho(b.log)
			if err != nil {
				return r, err
			}
			b.echoURL, b.stopEcho = url, stop
		}
		r.Upstream = b.echoURL
		return r, nil
	}
	client, err := upstreamTLS(rc, b.log)
	if err != nil {
		return r, err
	}
	r.UpstreamTLS = client
	scheme := "ws"
	if strings.HasPrefix(rc.upstream, "wss:") {
		scheme = "wss"
	}
	if r.UpstreamDial, err = proxyDialer("upstream proxy", rc.upstreamProxy, scheme); err != nil {
		return r, err
	}
	return r, nil
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

// listenerTLS builds the client leg's TLS from the listener's certificate
// source and client-certificate verification; nil for plain ws. It returns
// the source (for reloads), the certificate's pin and, for the dev CA, the
// CA file to trust.
func (b *builder) listenerTLS(lc *listenerConfig) (*tls.Config, certs.Source, string, string, error) {
	var (
		src         certs.Source
		pin, caFile string
	)
	switch {
	case lc.devCert:
		r, err := b.devCA(lc)
		if err != nil {
			return nil, nil, "", "", fmt.Errorf("development certificate: %w", err)
		}
		fsrc, err := certs.NewFileSource(r.CertFile, r.KeyFile, &certs.FileOptions{Logger: b.log})
		if err != nil {
			return nil, nil, "", "", err
		}
		src, pin, caFile = fsrc, r.SPKIPin, r.CACertFile
	case lc.certFile != "":
		fsrc, err := certs.NewFileSource(lc.certFile, lc.keyFile, &certs.FileOptions{Logger: b.log})
		if err != nil {
			return nil, nil, "", "", err
		}
		src, pin = fsrc, tlsconf.SPKIPin(fsrc.Leaf())
	case lc.acme != nil:
		a := lc.acme
		o := &certs.ACMEOptions{
			Domains: a.domains, OnDemandAllow: a.onDemand, Email: a.email, CA: a.ca,
			StorageDir: a.storage, TLSPort: portOf(lc.listen), ReusePrivateKeys: a.reuseKey,
			ClientsPinSPKI: a.clientsPinSPKI, RenewalWindowRatio: a.renewalWindowRatio,
			DisableHTTP01: a.http == "", HTTPPort: portOf(a.http), DisableTLSALPN01: a.disableTLSALPN,
			Logger: b.log,
		}
		if a.caRoot != "" {
			pem, err := os.ReadFile(a.caRoot)
			if err != nil {
				return nil, nil, "", "", fmt.Errorf("ACME CA root: %w", err)
			}
			o.RootCAs = x509.NewCertPool()
			if !o.RootCAs.AppendCertsFromPEM(pem) {
				return nil, nil, "", "", fmt.Errorf("ACME CA root %s: no PEM certificate", a.caRoot)
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
	cc := lc.clientCerts
	if cc.mode == tlsconf.ClientCertNone {
		return plain, src, pin, caFile, nil
	}
	pol, err := cc.verify.policy("client certificate", b.log)
	if err != nil {
		return nil, nil, "", "", err
	}
	cfg, err := tlsconf.ServerConfig(&tlsconf.ServerOptions{Base: plain, ClientCerts: cc.mode, ClientCAFile: cc.caFile, Policy: pol})
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
func (b *builder) devCA(lc *listenerConfig) (*certs.DevCAResult, error) {
	if r, ok := b.devCAs[lc.devCertDir]; ok {
		return r, nil
	}
	r, err := certs.DevCA(&certs.DevCAOptions{Dir: lc.devCertDir, Hosts: b.devHosts[lc.devCertDir], Logger: b.log})
	if err != nil {
		return nil, err
	}
	b.devCAs[lc.devCertDir] = r
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
func (v verifyConfig) policy(what string, log zerolog.Logger) (tlsconf.Policy, error) {
	pol := tlsconf.Policy{PinOnly: v.pinOnly, PinMatch: v.pinMatch, Logger: log}
	for _, s := range v.pins {
		p, err := tlsconf.ParsePin(s)
		if err != nil {
			return pol, fmt.Errorf("%s pin: %w", what, err)
		}
		pol.Pins = append(pol.Pins, p)
	}
	switch {
	case v.ignoreAll:
		pol.Ignore = tlsconf.IgnorePolicy{Mode: tlsconf.IgnoreAll}
		log.Warn().Msgf("%s: every SSL error is ignored (insecure; pins are still checked)", what)
	case len(v.ignore) > 0:
		list, err := tlsconf.ParseExpectedErrors(v.ignore)
		if err != nil {
			return pol, fmt.Errorf("%s ignored SSL errors: %w", what, err)
		}
		pol.Ignore = tlsconf.IgnorePolicy{Mode: tlsconf.IgnoreListed, Expected: list}
	}
	return pol, nil
}

// upstreamTLS builds the tlsconf client for a route's wss upstream.
func upstreamTLS(rc *routeConfig, log zerolog.Logger) (*tlsconf.Client, error) {
	pol, err := rc.upstreamVerify.policy("upstream "+rc.upstream, log)
	if err != nil {
		return nil, err
	}
	c, err := tlsconf.NewClient(&tlsconf.ClientOptions{
		CAFile: rc.upstreamCA, ServerName: rc.upstreamSNI, VerifyName: rc.upstreamVerifyName,
		CertFile: rc.upstreamCert, KeyFile: rc.upstreamKey, Policy: pol,
	})
	if err != nil {
		return nil, fmt.Errorf("upstream TLS: %w", err)
	}
	return c, nil
}
