package main

import (
	"net/netip"
	"time"

	"github.com/wssproxy/wssproxy/tlsconf"
)

// serveConfig is the configuration of "wssproxy serve", from flags (one
// listener, one route) or from a --config file (any number of each).
type serveConfig struct {
	listeners []listenerConfig
	// grace bounds the drain on SIGTERM/SIGINT.
	grace time.Duration
	log   logFlags
	admin adminConfig
}

// adminConfig is the admin API's listener (see proxy/admin).
type adminConfig struct {
	where string // like listenerConfig.where; "" for flags
	// listen is host:port, or unix:/path for a unix socket; "" means no
	// admin API.
	listen string
	// tokenFile holds the bearer token (mode 0600); required on TCP.
	tokenFile string
	// pauseMaxPending bounds the pending pause decisions of every route
	// together (0: tlsconf.DefaultMaxPending).
	pauseMaxPending int
	// pauseMaxWaiters bounds the handshakes waiting on one pause decision
	// (0: tlsconf.DefaultMaxWaiters).
	pauseMaxWaiters int
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
	// pskFile, if set, accepts TLS-PSK clients (identity:hexkey lines),
	// beside the certificate source's clients or alone.
	pskFile          string
	pskTLS12         bool   // also accept the TLS 1.2 PSK suites
	pskIdentityHint  string // sent to TLS 1.2 PSK clients
	clientCerts      clientCertConfig
	trustedProxies   []netip.Prefix
	maxConnections   int
	maxHeaderBytes   int
	handshakeTimeout time.Duration
	closeTimeout     time.Duration
	routes           []routeConfig
	// addrs are the addresses the file asks for, for the overlap check.
	addrs []addrUse
	// trustedForwarders are the HTTP proxies whose X-Forwarded-* and
	// Forwarded headers are kept (trustedProxies: PROXY protocol senders).
	trustedForwarders []netip.Prefix
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
	// upstreamPSKIdentity and upstreamPSKKeyFile make a wss upstream use
	// TLS-PSK instead of certificates.
	upstreamPSKIdentity string
	upstreamPSKKeyFile  string
	upstreamPSKTLS12    bool   // also offer the TLS 1.2 PSK suites
	upstreamProxy       string // "direct", "env" or a proxy URL
	upstreamTimeout     time.Duration
	maxFrame            int64
	maxMessage          int64
	outgoingFrame       int
	pingInterval        time.Duration
	pongTimeout         time.Duration
	idleTimeout         time.Duration
	frameTimeout        time.Duration
	writeTimeout        time.Duration
	maxControlRate      int // pings and pongs a second per leg (0: no limit)
	maxTinyFrameRate    int // data frames under 16 bytes a second per leg (0: no limit)
	allowedOrigins      []string
	noExtensions        bool // do not pass the client's extensions upstream
	// pause holds upstream handshakes with SSL errors for a decision
	// through the admin API, for up to pauseTimeout (0: tlsconf's
	// default).
	pause        bool
	pauseTimeout time.Duration
	// pauseMaxPending bounds the pending pause decisions this route's
	// handshakes wait on (0: tlsconf.DefaultMaxPendingPerPolicy).
	pauseMaxPending int
}
