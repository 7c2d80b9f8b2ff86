package config

import (
	"net/netip"
	"time"

	"github.com/wssproxy/wssproxy/tlsconf"
)

// Config is the configuration of "wssproxy serve", from flags (one
// listener, one route) or from a --config file (any number of each).
type Config struct {
	Listeners []Listener
	// grace bounds the drain on SIGTERM/SIGINT.
	Grace time.Duration
	Log   Log
	Admin Admin
}

// Admin is the admin API's listener (see proxy/admin).
type Admin struct {
	Where string // like Listener.where; "" for flags
	// listen is host:port, or unix:/path for a unix socket; "" means no
	// admin API.
	Listen string
	// tokenFile holds the bearer token (mode 0600); required on TCP.
	TokenFile string
	// pauseMaxPending bounds the pending pause decisions of every route
	// together (0: tlsconf.DefaultMaxPending).
	PauseMaxPending int
	// pauseMaxWaiters bounds the handshakes waiting on one pause decision
	// (0: tlsconf.DefaultMaxWaiters).
	PauseMaxWaiters int
}

// Listener is one listening address with its certificate source and
// its routes.
type Listener struct {
	// where locates the listener in a config file ("FILE:LINE:
	// listeners[0]"); "" for flags. Errors found while building carry it.
	Where  string
	Name   string
	Listen string
	// Certificate source: at most one of files, dev CA or ACME; none
	// serves plain ws.
	CertFile, KeyFile string
	DevCert           bool
	DevCertDir        string
	DevCertHosts      []string
	ACME              *ACME
	// pskFile, if set, accepts TLS-PSK clients (identity:hexkey lines),
	// beside the certificate source's clients or alone.
	PSKFile          string
	PSKTLS12         bool   // also accept the TLS 1.2 PSK suites
	PSKIdentityHint  string // sent to TLS 1.2 PSK clients
	ClientCerts      ClientCerts
	TrustedProxies   []netip.Prefix
	MaxConnections   int
	MaxHeaderBytes   int
	HandshakeTimeout time.Duration
	CloseTimeout     time.Duration
	Routes           []Route
	// addrs are the addresses the file asks for, for the overlap check.
	addrs []addrUse
	// trustedForwarders are the HTTP proxies whose X-Forwarded-* and
	// Forwarded headers are kept (trustedProxies: PROXY protocol senders).
	TrustedForwarders []netip.Prefix
}

// ACME is a listener's ACME certificate source.
type ACME struct {
	Domains, OnDemand  []string
	Email, CA          string
	CARoot, Storage    string
	HTTP               string // HTTP-01 listener address; "" = TLS-ALPN-01 only
	ReuseKey           bool
	ClientsPinSPKI     bool
	DisableTLSALPN     bool
	RenewalWindowRatio float64
}

// ClientCerts is a listener's client-certificate verification.
type ClientCerts struct {
	Mode   tlsconf.ClientCertMode
	CAFile string
	Verify Verify
}

// Verify is the part of a tlsconf.Policy that configuration sets.
type Verify struct {
	Pins      []string
	PinOnly   bool
	PinMatch  tlsconf.PinMatch
	IgnoreAll bool
	Ignore    []string // KIND or KIND:SHA256
}

// Route is one route of a listener.
type Route struct {
	Where      string // like Listener.where
	line       int
	Name       string
	Host, Path string
	StripPath  bool
	// upstream is the ws:// or wss:// URL; "" means the built-in echo
	// server (flags only).
	Upstream           string
	UpstreamCA         string
	UpstreamSNI        string
	UpstreamVerifyName string
	UpstreamCert       string
	UpstreamKey        string
	UpstreamVerify     Verify
	// upstreamPSKIdentity and upstreamPSKKeyFile make a wss upstream use
	// TLS-PSK instead of certificates.
	UpstreamPSKIdentity string
	UpstreamPSKKeyFile  string
	UpstreamPSKTLS12    bool   // also offer the TLS 1.2 PSK suites
	UpstreamProxy       string // "direct", "env" or a proxy URL
	UpstreamTimeout     time.Duration
	MaxFrameSize        int64
	MaxMessageSize      int64
	OutgoingFrameSize   int
	PingInterval        time.Duration
	PongTimeout         time.Duration
	IdleTimeout         time.Duration
	FrameTimeout        time.Duration
	WriteTimeout        time.Duration
	MaxControlRate      int // pings and pongs a second per leg (0: no limit)
	MaxTinyFrameRate    int // data frames under 16 bytes a second per leg (0: no limit)
	AllowedOrigins      []string
	NoExtensions        bool // do not pass the client's extensions upstream
	// pause holds upstream handshakes with SSL errors for a decision
	// through the admin API, for up to pauseTimeout (0: tlsconf's
	// default).
	Pause        bool
	PauseTimeout time.Duration
	// PauseMaxPending bounds the pending pause decisions this route's
	// handshakes wait on (0: tlsconf.DefaultMaxPendingPerPolicy).
	PauseMaxPending int
}
