package config

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/wssproxy/wssproxy/certs"
	"github.com/wssproxy/wssproxy/proxy"
	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/ws"
)

// ServeFlags are the flags of "wssproxy serve": a quick way to write a
// Config of one listener with one route. NewServeFlags registers them on
// a flag.FlagSet; after it parsed the arguments, Config checks them and
// returns the configuration.
type ServeFlags struct {
	fs         *flag.FlagSet
	configFile string
	check      bool // validate and exit
	listen     string
	// Client leg.
	certFile, keyFile string
	devCert           bool
	devCertDir        string
	acmeDomains       StringList
	acmeEmail         string
	acmeCA            string
	acmeStorage       string
	acmeCARoot        string
	acmeHTTP          string
	acmeOnDemand      StringList
	acmeReuseKey      bool
	// Upstream leg; "" means the built-in echo server.
	upstream        string
	upstreamCA      string
	upstreamPins    StringList
	upstreamPinOnly bool
	upstreamIgnore  StringList
	upstreamInsec   bool
	upstreamSNI     string
	upstreamResume  bool
	upstreamProxy   string
	pskFile         string
	upstreamPSKID   string
	upstreamPSKKey  string
	pskTLS12        bool
	pskHint         string
	upstreamPSK12   bool
	// Frames and HTTP.
	maxFrame, maxMessage Size
	outgoingFrame        Size
	pingInterval         time.Duration
	pongTimeout          time.Duration
	idleTimeout          time.Duration
	frameTimeout         time.Duration
	writeTimeout         time.Duration
	maxControlRate       int
	maxTinyFrameRate     int
	allowedOrigins       StringList
	noExtensions         bool
	maxConnections       int
	grace                time.Duration
	log                  Log
	// Pause on SSL errors and the admin API.
	pause          bool
	pauseTimeout   time.Duration
	pauseMax       int
	pauseMaxRoute  int
	pauseWaiters   int
	adminListen    string
	adminTokenFile string
	store          string
	storeEtcd      StoreEtcd
	pskFromStore   bool
}

// fileOverrides are the flags that may be combined with --config.
var fileOverrides = map[string]bool{"config": true, "check": true, "log-format": true, "log-level": true, "grace": true, "admin": true, "admin-token-file": true, "pause-max-pending": true, "pause-max-waiters": true, "store": true,
	"store-etcd-ca-file": true, "store-etcd-cert-file": true, "store-etcd-key-file": true, "store-etcd-username": true,
	"store-etcd-password-file": true, "store-etcd-cache-file": true, "store-etcd-instance": true}

// NewServeFlags registers serve's flags on fs.
func NewServeFlags(fs *flag.FlagSet) *ServeFlags {
	c := &ServeFlags{fs: fs}
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
	fs.StringVar(&c.pskFile, "psk-file", "", "accept TLS-PSK clients with the keys in this file (identity:hexkey lines, mode 0600), beside a certificate source's clients or alone")
	fs.StringVar(&c.upstreamPSKID, "upstream-psk-identity", "", "reach a wss upstream with TLS-PSK under this identity (with --upstream-psk-key-file)")
	fs.BoolVar(&c.pskTLS12, "psk-tls12", false, "also accept the TLS 1.2 PSK suites (AEAD only) for devices without TLS 1.3 PSK")
	fs.StringVar(&c.pskHint, "psk-identity-hint", "", "identity hint sent to TLS 1.2 PSK clients")
	fs.BoolVar(&c.upstreamPSK12, "upstream-psk-tls12", false, "also offer the TLS 1.2 PSK suites to the upstream")
	fs.StringVar(&c.upstreamPSKKey, "upstream-psk-key-file", "", "file holding the upstream PSK in hex (mode 0600)")
	fs.StringVar(&c.upstream, "upstream", "", "ws:// or wss:// URL to relay to (default: the built-in echo server)")
	fs.StringVar(&c.upstreamCA, "upstream-ca", "", "PEM file of CAs to verify a wss upstream with (default: system roots)")
	fs.Var(&c.upstreamPins, "upstream-pin", "pin the upstream's certificate: sha256//<base64 SPKI>, hex, or cert-sha256:<hex> (repeatable)")
	fs.BoolVar(&c.upstreamPinOnly, "upstream-pin-only", false, "trust the pins alone, without CA verification (self-signed upstreams)")
	fs.Var(&c.upstreamIgnore, "upstream-ignore-ssl-error", "accept this upstream SSL error: KIND or KIND:SHA256 (repeatable)")
	fs.BoolVar(&c.upstreamInsec, "upstream-insecure", false, "accept every upstream SSL error except a pin mismatch (insecure, logged)")
	fs.StringVar(&c.upstreamProxy, "upstream-proxy", "direct", "reach the upstream through this HTTP CONNECT or SOCKS5 proxy URL (http://, https://, socks5://, socks5h://; user:pass@ allowed), \"env\" for HTTPS_PROXY/ALL_PROXY/NO_PROXY, or \"direct\"")
	fs.StringVar(&c.upstreamSNI, "upstream-sni", "", "server name sent to and verified for a wss upstream (default: the URL's host)")
	fs.BoolVar(&c.upstreamResume, "upstream-session-resumption", true, "resume TLS sessions with a wss upstream (its certificate rules are still checked on each connection); =false makes every connection a full handshake")
	c.maxFrame, c.maxMessage, c.outgoingFrame = ws.DefaultMaxIncomingFrameSize, ws.DefaultMaxIncomingMessageSize, ws.DefaultOutgoingFrameSize
	fs.Var(&c.maxFrame, "max-frame-size", "largest frame either leg may send (a `size`: bytes, or with KiB/MiB/GiB; -1: no limit); more closes it with 1009")
	fs.Var(&c.maxMessage, "max-message-size", "largest message either leg may send (a `size`; -1: no limit); more closes it with 1009")
	fs.Var(&c.outgoingFrame, "outgoing-frame-size", "relayed frames larger than this `size` are split")
	fs.DurationVar(&c.pingInterval, "ping-interval", proxy.DefaultPingInterval, "send keepalive pings on each leg this often (0: off); a leg that does not answer in time is dropped")
	fs.DurationVar(&c.pongTimeout, "pong-timeout", 0, "drop a leg whose keepalive pong is this late (default: the ping interval)")
	fs.DurationVar(&c.idleTimeout, "idle-timeout", 0, "close both legs with 1001 after this long without data (0: never)")
	fs.DurationVar(&c.frameTimeout, "frame-timeout", ws.DefaultFrameTimeout, "drop a peer that stops this long in the middle of a frame (1008; 0: never)")
	fs.IntVar(&c.maxControlRate, "max-control-rate", proxy.DefaultMaxControlRate, "close a leg with 1008 that sends more pings and pongs a second (0: no limit)")
	fs.IntVar(&c.maxTinyFrameRate, "max-tiny-frame-rate", proxy.DefaultMaxTinyFrameRate, "close a leg with 1008 that sends more data frames under 16 bytes a second (0: no limit)")
	fs.DurationVar(&c.writeTimeout, "write-timeout", ws.DefaultWriteTimeout, "drop a peer that takes none of a write for this long: it stopped reading (0: never)")
	fs.BoolVar(&c.noExtensions, "no-extensions", false, "do not pass the client's WebSocket extensions (permessage-deflate) upstream, so size limits count real payload bytes")
	fs.Var(&c.allowedOrigins, "allowed-origin", "allow only this Origin, e.g. https://app.example (repeatable; others get 403)")
	fs.IntVar(&c.maxConnections, "max-connections", 10000, "connections served at once; more wait")
	fs.DurationVar(&c.grace, "grace", DefaultGrace, "on SIGTERM/SIGINT, how long to wait for connections to close after sending 1001")
	fs.BoolVar(&c.pause, "pause-on-ssl-errors", false, "hold upstream handshakes with SSL errors until resumed or aborted through the admin API (needs --admin)")
	fs.DurationVar(&c.pauseTimeout, "pause-timeout", 0, "abort a paused upstream handshake after this long (default 30s)")
	fs.IntVar(&c.pauseMax, "pause-max-pending", tlsconf.DefaultMaxPending, "pending pause decisions allowed at once over every route (one per upstream certificate; beyond, clients get 503)")
	fs.IntVar(&c.pauseWaiters, "pause-max-waiters", tlsconf.DefaultMaxWaiters, "handshakes allowed to wait on one pause decision (beyond, clients get 503)")
	fs.IntVar(&c.pauseMaxRoute, "pause-max-pending-per-route", tlsconf.DefaultMaxPendingPerPolicy, "pending pause decisions allowed at once for the route (beyond, its clients get 503)")
	fs.StringVar(&c.adminListen, "admin", "", "serve the admin API (connections, paused handshakes, /metrics, /healthz, /readyz) on host:port or unix:/path")
	fs.StringVar(&c.adminTokenFile, "admin-token-file", "", "file holding the admin API's bearer token (mode 0600; required on host:port)")
	fs.StringVar(&c.store, "store", "", "where trust decisions are kept: file:PATH (default: upstream_pins in the state directory, $XDG_STATE_HOME/wssproxy), or etcd://HOST:PORT,…/PREFIX shared by a fleet (pins, PSK identities, ACME certificates, paused handshakes)")
	fs.StringVar(&c.storeEtcd.CAFile, "store-etcd-ca-file", "", "PEM CAs verifying the etcd members (speaks TLS to etcd)")
	fs.StringVar(&c.storeEtcd.CertFile, "store-etcd-cert-file", "", "client certificate for etcd (PEM, with --store-etcd-key-file)")
	fs.StringVar(&c.storeEtcd.KeyFile, "store-etcd-key-file", "", "private key of --store-etcd-cert-file")
	fs.StringVar(&c.storeEtcd.Username, "store-etcd-username", "", "etcd user (with --store-etcd-password-file)")
	fs.StringVar(&c.storeEtcd.PasswordFile, "store-etcd-password-file", "", "file holding the etcd user's password (mode 0600)")
	fs.StringVar(&c.storeEtcd.CacheFile, "store-etcd-cache-file", "", "local copy of the etcd store, used while etcd is away (default: etcd_cache_PREFIX in the state directory)")
	fs.StringVar(&c.storeEtcd.Instance, "store-etcd-instance", "", "this instance's name in the fleet (default: host name and a random suffix)")
	fs.BoolVar(&c.pskFromStore, "psk-from-store", false, "accept TLS-PSK clients with the identities kept in the etcd store (watched), instead of --psk-file")
	fs.StringVar(&c.log.Format, "log-format", "", "json or console (default: console on a terminal, else json)")
	fs.StringVar(&c.log.Level, "log-level", "info", "trace, debug, info, warn or error")
	fs.BoolVar(&c.check, "check", false, "validate the configuration (files readable, certificates and keys parse, addresses free) and exit: 0 if it would serve, 2 with the errors")
	return c
}

// Config checks the flags fs parsed and returns the configuration they
// describe. With --config it returns the file's name and a Config holding
// only the flags that override the file; set tells which flags were given.
func (c *ServeFlags) Config() (Config, string, map[string]bool, error) {
	fs := c.fs
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
			return Config{}, "", nil, fmt.Errorf("--config excludes %s: set it in the file (only --log-format, --log-level, --grace, --admin, --admin-token-file, --pause-max-pending, --pause-max-waiters, --store and --store-etcd-* may override the file)", strings.Join(excluded, ", "))
		}
		if c.pauseMax <= 0 || c.pauseWaiters <= 0 {
			return Config{}, "", nil, fmt.Errorf("--pause-max-pending and --pause-max-waiters must be positive, not %d and %d", c.pauseMax, c.pauseWaiters)
		}
		if err := c.checkStore(set); err != nil {
			return Config{}, "", nil, err
		}
		return Config{Grace: Duration(c.grace), Log: c.log, Store: c.store, StoreEtcd: c.storeEtcd, Admin: Admin{Listen: c.adminListen, TokenFile: c.adminTokenFile, PauseMaxPending: c.pauseMax, PauseMaxWaiters: c.pauseWaiters}}, c.configFile, set, nil
	}
	if c.listen == "" && c.upstream == "" && c.certFile == "" && c.keyFile == "" && len(c.acmeDomains) == 0 && len(c.acmeOnDemand) == 0 && c.pskFile == "" && !c.pskFromStore {
		// The embedded default (logging and frame flags may still be set).
		c.devCert = true
	}
	if c.listen == "" {
		c.listen = "127.0.0.1:8443"
	}
	if err := c.checkStore(set); err != nil {
		return Config{}, "", nil, err
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
		return Config{}, "", nil, errors.New("choose one certificate source: --cert/--key, --dev-cert or --acme-domain")
	case (c.certFile == "") != (c.keyFile == ""):
		return Config{}, "", nil, errors.New("--cert and --key go together")
	case !acme && (c.acmeHTTP != "" || c.acmeCARoot != "" || c.acmeReuseKey || c.acmeEmail != "" || c.acmeStorage != ""):
		return Config{}, "", nil, errors.New("ACME flags need --acme-domain or --acme-on-demand")
	case c.maxConnections <= 0:
		return Config{}, "", nil, fmt.Errorf("--max-connections must be positive, not %d", c.maxConnections)
	case c.outgoingFrame <= 0:
		return Config{}, "", nil, fmt.Errorf("--outgoing-frame-size must be positive, not %d", c.outgoingFrame)
	case c.maxFrame == 0 || c.maxMessage == 0:
		return Config{}, "", nil, errors.New("--max-frame-size and --max-message-size must not be 0 (use -1 for no limit)")
	case c.maxControlRate < 0 || c.maxTinyFrameRate < 0:
		return Config{}, "", nil, errors.New("--max-control-rate and --max-tiny-frame-rate must not be negative (0: no limit)")
	case c.pingInterval < 0 || c.idleTimeout < 0 || c.pongTimeout < 0 || c.frameTimeout < 0 || c.writeTimeout < 0:
		return Config{}, "", nil, errors.New("--ping-interval and --idle-timeout must not be negative")
	case c.upstream == "" && (c.upstreamCA != "" || len(c.upstreamPins) > 0 || len(c.upstreamIgnore) > 0 || c.upstreamInsec || c.upstreamProxy != "direct" || c.pause):
		return Config{}, "", nil, errors.New("upstream flags need --upstream")
	case c.upstreamInsec && len(c.upstreamIgnore) > 0:
		return Config{}, "", nil, errors.New("--upstream-insecure already ignores every error; drop --upstream-ignore-ssl-error")
	case c.upstreamPinOnly && len(c.upstreamPins) == 0:
		return Config{}, "", nil, errors.New("--upstream-pin-only needs at least one --upstream-pin")
	case (c.pskTLS12 || c.pskHint != "") && c.pskFile == "" && !c.pskFromStore:
		return Config{}, "", nil, errors.New("--psk-tls12 and --psk-identity-hint need --psk-file or --psk-from-store")
	case c.upstreamPSK12 && c.upstreamPSKID == "":
		return Config{}, "", nil, errors.New("--upstream-psk-tls12 needs --upstream-psk-identity")
	case (c.upstreamPSKID == "") != (c.upstreamPSKKey == ""):
		return Config{}, "", nil, errors.New("--upstream-psk-identity and --upstream-psk-key-file go together")
	case c.upstreamPSKID != "" && !strings.HasPrefix(c.upstream, "wss:"):
		return Config{}, "", nil, errors.New("--upstream-psk-identity needs a wss:// --upstream")
	case c.upstreamPSKID != "" && (c.upstreamCA != "" || len(c.upstreamPins) > 0 || len(c.upstreamIgnore) > 0 || c.upstreamInsec || c.upstreamSNI != "" || c.pause || set["upstream-session-resumption"]):
		return Config{}, "", nil, errors.New("a PSK upstream has no certificate: drop the --upstream-ca/-pin/-ignore-ssl-error/-insecure/-sni/-session-resumption and --pause-on-ssl-errors flags")
	case set["upstream-session-resumption"] && !strings.HasPrefix(c.upstream, "wss:"):
		return Config{}, "", nil, errors.New("--upstream-session-resumption needs a wss:// --upstream")
	case c.pause && !strings.HasPrefix(c.upstream, "wss:"):
		return Config{}, "", nil, errors.New("--pause-on-ssl-errors needs a wss:// --upstream")
	case c.pause && c.upstreamInsec:
		return Config{}, "", nil, errors.New("--upstream-insecure accepts every SSL error: nothing would pause; drop one of them")
	case c.pauseTimeout < 0:
		return Config{}, "", nil, errors.New("--pause-timeout must not be negative")
	case c.pauseTimeout > 0 && !c.pause:
		return Config{}, "", nil, errors.New("--pause-timeout needs --pause-on-ssl-errors")
	case c.pauseMax <= 0 || c.pauseMaxRoute <= 0 || c.pauseWaiters <= 0:
		return Config{}, "", nil, fmt.Errorf("--pause-max-pending, --pause-max-pending-per-route and --pause-max-waiters must be positive, not %d, %d and %d", c.pauseMax, c.pauseMaxRoute, c.pauseWaiters)
	case (set["pause-max-pending"] || set["pause-max-pending-per-route"] || set["pause-max-waiters"]) && !c.pause:
		return Config{}, "", nil, errors.New("--pause-max-pending, --pause-max-pending-per-route and --pause-max-waiters need --pause-on-ssl-errors")
	}
	if err := c.checkValues(); err != nil {
		return Config{}, "", nil, err
	}
	return c.config(), "", set, nil
}

// checkValues checks the values of the flags that name TLS errors and
// pins, so that the error names the flag.
func (c *ServeFlags) checkValues() error {
	for _, s := range c.upstreamIgnore {
		if _, err := tlsconf.ParseExpectedError(s); err != nil {
			return fmt.Errorf("--upstream-ignore-ssl-error: %w", err)
		}
	}
	for _, s := range c.upstreamPins {
		if _, err := tlsconf.ParsePin(s); err != nil {
			return fmt.Errorf("--upstream-pin: %w", err)
		}
	}
	return nil
}

// config turns the flags into the one-listener, one-route configuration.
func (c *ServeFlags) config() Config {
	l := Listener{
		Name: c.listen, Listen: c.listen, MaxConnections: c.maxConnections,
		ListenerTLS: ListenerTLS{
			CertFile: c.certFile, KeyFile: c.keyFile, DevCert: DevCert{Enabled: c.devCert, Dir: c.devCertDir},
			PSKFile: c.pskFile, PSKStore: c.pskFromStore, PSKTLS12: c.pskTLS12, PSKIdentityHint: c.pskHint,
		},
	}
	if len(c.acmeDomains) > 0 || len(c.acmeOnDemand) > 0 {
		l.ACME = &ACME{
			Domains: c.acmeDomains, OnDemand: c.acmeOnDemand, Email: c.acmeEmail, CA: c.acmeCA,
			CARoot: c.acmeCARoot, Storage: c.acmeStorage, HTTP: c.acmeHTTP, ReuseKey: c.acmeReuseKey,
		}
	}
	l.Routes = []Route{{
		Upstream: c.upstream,
		UpstreamTLS: UpstreamTLS{
			UpstreamCA: c.upstreamCA, UpstreamSNI: c.upstreamSNI,
			UpstreamVerify: Verify{Pins: c.upstreamPins, PinOnly: c.upstreamPinOnly, IgnoreAll: c.upstreamInsec, Ignore: c.upstreamIgnore},
			Pause:          c.pause, PauseTimeout: Duration(c.pauseTimeout), PauseMaxPending: c.pauseMaxRoute,
			SessionResumption: c.upstreamResume, NoSessionResumption: !c.upstreamResume,
		},
		UpstreamPSK:       UpstreamPSK{UpstreamPSKIdentity: c.upstreamPSKID, UpstreamPSKKeyFile: c.upstreamPSKKey, UpstreamPSKTLS12: c.upstreamPSK12},
		UpstreamProxy:     c.upstreamProxy,
		MaxFrameSize:      c.maxFrame,
		MaxMessageSize:    c.maxMessage,
		OutgoingFrameSize: c.outgoingFrame,
		PingInterval:      Duration(c.pingInterval),
		PongTimeout:       Duration(c.pongTimeout),
		IdleTimeout:       Duration(c.idleTimeout),
		FrameTimeout:      Duration(c.frameTimeout),
		WriteTimeout:      Duration(c.writeTimeout),
		MaxControlRate:    c.maxControlRate,
		MaxTinyFrameRate:  c.maxTinyFrameRate,
		AllowedOrigins:    c.allowedOrigins,
		NoExtensions:      c.noExtensions,
	}}
	return Config{Listeners: []Listener{l}, Grace: Duration(c.grace), Log: c.log, Store: c.store, StoreEtcd: c.storeEtcd,
		Admin: Admin{Listen: c.adminListen, TokenFile: c.adminTokenFile, PauseMaxPending: c.pauseMax, PauseMaxWaiters: c.pauseWaiters}}
}

// Override replaces what a file set with the flags given beside --config
// (set names them; flags holds their values): --log-format, --log-level,
// --grace, --admin, --admin-token-file, --pause-max-pending,
// --pause-max-waiters and --store.
func (c *Config) Override(flags Config, set map[string]bool) {
	overrideIf(set["log-format"], &c.Log.Format, flags.Log.Format)
	overrideIf(set["log-level"], &c.Log.Level, flags.Log.Level)
	overrideIf(set["grace"], &c.Grace, flags.Grace)
	overrideIf(set["pause-max-pending"], &c.Admin.PauseMaxPending, flags.Admin.PauseMaxPending)
	overrideIf(set["pause-max-waiters"], &c.Admin.PauseMaxWaiters, flags.Admin.PauseMaxWaiters)
	overrideIf(set["store"], &c.Store, flags.Store)
	overrideIf(set["admin"], &c.Admin.Listen, flags.Admin.Listen)
	overrideIf(set["admin-token-file"], &c.Admin.TokenFile, flags.Admin.TokenFile)
	if set["admin"] || set["admin-token-file"] {
		c.Admin.Where = "" // a value from a flag has no position in the file
	}
	e, f := &c.StoreEtcd, flags.StoreEtcd
	for name, pair := range map[string][2]*string{
		"store-etcd-ca-file": {&e.CAFile, &f.CAFile}, "store-etcd-cert-file": {&e.CertFile, &f.CertFile},
		"store-etcd-key-file": {&e.KeyFile, &f.KeyFile}, "store-etcd-username": {&e.Username, &f.Username},
		"store-etcd-password-file": {&e.PasswordFile, &f.PasswordFile}, "store-etcd-cache-file": {&e.CacheFile, &f.CacheFile},
		"store-etcd-instance": {&e.Instance, &f.Instance},
	} {
		if overrideIf(set[name], pair[0], *pair[1]) {
			e.Where = ""
		}
	}
}

// overrideIf sets *dst to v when set, and says whether it did.
func overrideIf[T any](set bool, dst *T, v T) bool {
	if set {
		*dst = v
	}
	return set
}

// checkStore checks --store and the --store-etcd-* flags.
func (c *ServeFlags) checkStore(set map[string]bool) error {
	etcd := false
	if c.store != "" {
		st, err := ParseStore(c.store)
		if err != nil {
			return fmt.Errorf("--store: %w", err)
		}
		etcd = st.Kind == "etcd"
	}
	e := c.storeEtcd
	switch {
	case (e.CertFile == "") != (e.KeyFile == ""):
		return errors.New("--store-etcd-cert-file and --store-etcd-key-file go together")
	case (e.Username == "") != (e.PasswordFile == ""):
		return errors.New("--store-etcd-username and --store-etcd-password-file go together (the password is only read from a file)")
	case e.Instance != "" && (len(e.Instance) > 128 || strings.ContainsAny(e.Instance, "/ \t\r\n")):
		return fmt.Errorf("--store-etcd-instance %q: want a word of at most 128 bytes without '/'", e.Instance)
	}
	if c.configFile != "" {
		return nil // the file may name the etcd store
	}
	for name := range set {
		if strings.HasPrefix(name, "store-etcd-") && !etcd {
			return fmt.Errorf("--%s needs --store etcd://HOST:PORT,…/PREFIX", name)
		}
	}
	switch {
	case c.pskFromStore && !etcd:
		return errors.New("--psk-from-store needs --store etcd://HOST:PORT,…/PREFIX (the file store holds no PSK identities)")
	case c.pskFromStore && c.pskFile != "":
		return errors.New("--psk-from-store excludes --psk-file")
	}
	return nil
}
