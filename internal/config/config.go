package config

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the configuration of "wssproxy serve", from flags (one
// listener, one route) or from a --config file (any number of each). The
// yaml tags are the file's keys (docs/config.md).
type Config struct {
	Log Log `yaml:"log"`
	// Grace bounds the drain on SIGTERM/SIGINT.
	Grace Duration `yaml:"grace"`
	Admin Admin    `yaml:"admin"`
	// Store is where trust decisions are kept (see ParseStore): "" for
	// the default file in the state directory, file:PATH, or
	// etcd://HOSTS/PREFIX (shared by a fleet; StoreEtcd completes it).
	Store     string     `yaml:"store"`
	StoreEtcd StoreEtcd  `yaml:"store_etcd"`
	Listeners []Listener `yaml:"listeners"`
	// Extensions are the top-level x-… keys, which hold anchors to merge
	// (<<: *name) and mean nothing themselves.
	Extensions map[string]yaml.Node `yaml:",inline"`
	// pos is where a file put each key, for Validate; nil for flags.
	pos *positions
}

// Log is the logging of a long-running command.
type Log struct {
	Format string `yaml:"format"` // json | console | "" (console on a terminal, else json)
	Level  string `yaml:"level"`  // trace, debug, info, warn or error
}

// Admin is the admin API's listener (see proxy/admin).
type Admin struct {
	// Where locates the admin mapping in a config file ("FILE:LINE:
	// admin"); "" for flags.
	Where string `yaml:"-"`
	// Listen is host:port, or unix:/path for a unix socket; "" means no
	// admin API.
	Listen string `yaml:"listen"`
	// TokenFile holds the bearer token (mode 0600); required on TCP.
	TokenFile string `yaml:"token_file"`
	// PauseMaxPending bounds the pending pause decisions of every route
	// together (0: tlsconf.DefaultMaxPending).
	PauseMaxPending int `yaml:"pause_max_pending"`
	// PauseMaxWaiters bounds the handshakes waiting on one pause decision
	// (0: tlsconf.DefaultMaxWaiters).
	PauseMaxWaiters int `yaml:"pause_max_waiters"`
}

// StoreEtcd is how serve reaches an etcd trust store: TLS, authentication,
// the local cache and timeouts.
type StoreEtcd struct {
	// Where locates the store_etcd mapping in a config file ("FILE:LINE:
	// store_etcd"); "" for flags.
	Where string `yaml:"-"`
	// CAFile verifies the etcd members (PEM); set, or with CertFile, the
	// client speaks TLS.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client certificate etcd may ask for.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// Username authenticates to etcd with the password in PasswordFile
	// (mode 0600; only read from a file, never logged).
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	// CacheFile keeps the last state read from etcd so that serve starts
	// and keeps serving while etcd is away (default DefaultEtcdCacheFile).
	CacheFile string `yaml:"cache_file"`
	// DialTimeout bounds the first contact at start; OpTimeout each etcd
	// request (0: the store's defaults).
	DialTimeout Duration `yaml:"dial_timeout"`
	OpTimeout   Duration `yaml:"op_timeout"`
	// Instance names this instance in the fleet (admin API listings of
	// paused handshakes); default: the host name and a random suffix.
	Instance string `yaml:"instance"`
}

// TLS reports whether the client speaks TLS to etcd.
func (e StoreEtcd) TLS() bool { return e.CAFile != "" || e.CertFile != "" }

// Listener is one listening address with its certificate source and its
// routes.
type Listener struct {
	// Where locates the listener in a config file ("FILE:LINE:
	// listeners[0]"); "" for flags. Errors found while building carry it.
	Where  string `yaml:"-"`
	Name   string `yaml:"name"`
	Listen string `yaml:"listen"`
	// ListenerTLS is the tls mapping: the certificate source (none
	// serves plain ws), TLS-PSK clients and client certificates.
	ListenerTLS `yaml:"tls"`
	// TrustedProxies are the load balancers whose PROXY protocol header
	// is read; TrustedForwarders the HTTP proxies whose X-Forwarded-* and
	// Forwarded headers are kept.
	TrustedProxies    Prefixes `yaml:"trusted_proxies"`
	TrustedForwarders Prefixes `yaml:"trusted_forwarders"`
	MaxConnections    int      `yaml:"max_connections"`
	MaxHeaderBytes    Size     `yaml:"max_header_bytes"`
	HandshakeTimeout  Duration `yaml:"handshake_timeout"`
	CloseTimeout      Duration `yaml:"close_timeout"`
	Routes            []Route  `yaml:"routes"`
}

// ListenerTLS is a listener's certificate source (at most one of files,
// dev CA or ACME), TLS-PSK clients and client-certificate verification.
type ListenerTLS struct {
	CertFile string  `yaml:"cert_file"`
	KeyFile  string  `yaml:"key_file"`
	DevCert  DevCert `yaml:"dev_cert"`
	ACME     *ACME   `yaml:"acme"`
	// PSKFile, if set, accepts TLS-PSK clients (identity:hexkey lines),
	// beside the certificate source's clients or alone.
	PSKFile string `yaml:"psk_file"`
	// PSKStore accepts TLS-PSK clients with the identities of the etcd
	// trust store (watched: added and removed identities apply at once),
	// instead of a PSKFile.
	PSKStore        bool        `yaml:"psk_store"`
	PSKTLS12        bool        `yaml:"psk_tls12"`         // also accept the TLS 1.2 PSK suites
	PSKIdentityHint string      `yaml:"psk_identity_hint"` // sent to TLS 1.2 PSK clients
	ClientCerts     ClientCerts `yaml:"client_certs"`
}

// DevCert is a certificate from the local development CA: "dev_cert:
// true", or a mapping with its folder and host names.
type DevCert struct {
	Enabled bool       `yaml:"-"`
	Dir     string     `yaml:"dir"`   // "" = the state directory's devca
	Hosts   StringList `yaml:"hosts"` // names besides localhost and loopback
}

// ACME is a listener's ACME certificate source.
type ACME struct {
	Domains  StringList `yaml:"domains"`
	OnDemand StringList `yaml:"on_demand"`
	Email    string     `yaml:"email"`
	CA       string     `yaml:"ca"` // directory URL (default Let's Encrypt)
	CARoot   string     `yaml:"ca_root"`
	Storage  string     `yaml:"storage"`
	// HTTP is the HTTP-01 listener address; "" = TLS-ALPN-01 only.
	HTTP               string  `yaml:"http"`
	ReuseKey           bool    `yaml:"reuse_key"`
	ClientsPinSPKI     bool    `yaml:"clients_pin_spki"`
	DisableTLSALPN     bool    `yaml:"disable_tls_alpn"`
	RenewalWindowRatio float64 `yaml:"renewal_window_ratio"`
}

// ClientCerts is a listener's client-certificate verification.
type ClientCerts struct {
	Mode   string `yaml:"mode"` // none ("" too), optional or required
	CAFile string `yaml:"ca_file"`
	Verify `yaml:",inline"`
}

// Verify is the part of a tlsconf.Policy that configuration sets.
type Verify struct {
	Pins     StringList `yaml:"pins"`
	PinOnly  bool       `yaml:"pin_only"`
	PinMatch string     `yaml:"pin_match"` // leaf ("" too) or chain
	// Ignore lists the SSL errors accepted, KIND or KIND:SHA256; in the
	// file also "all" (IgnoreAll) or "none".
	Ignore    StringList `yaml:"ignore"`
	IgnoreAll bool       `yaml:"-"`
}

// Route is one route of a listener.
type Route struct {
	Where     string `yaml:"-"` // like Listener.Where
	line      int
	Name      string `yaml:"name"`
	Host      string `yaml:"host"`
	Path      string `yaml:"path"`
	StripPath bool   `yaml:"strip_path"`
	// Upstream is the ws:// or wss:// URL; "" means the built-in echo
	// server (flags only).
	Upstream    string `yaml:"upstream"`
	UpstreamTLS `yaml:"upstream_tls"`
	UpstreamPSK `yaml:"upstream_psk"`
	// UpstreamProxy is "direct", "env" or a proxy URL.
	UpstreamProxy     string   `yaml:"upstream_proxy"`
	UpstreamTimeout   Duration `yaml:"upstream_timeout"`
	MaxFrameSize      Size     `yaml:"max_frame_size"`
	MaxMessageSize    Size     `yaml:"max_message_size"`
	OutgoingFrameSize Size     `yaml:"outgoing_frame_size"`
	// PingInterval, FrameTimeout and WriteTimeout of 0 turn them off;
	// PongTimeout 0 is the interval; IdleTimeout 0 is never.
	PingInterval Duration `yaml:"ping_interval"`
	PongTimeout  Duration `yaml:"pong_timeout"`
	IdleTimeout  Duration `yaml:"idle_timeout"`
	FrameTimeout Duration `yaml:"frame_timeout"`
	WriteTimeout Duration `yaml:"write_timeout"`
	// MaxControlRate are the pings and pongs, MaxTinyFrameRate the data
	// frames under 16 bytes, a second per leg (0: no limit).
	MaxControlRate   int        `yaml:"max_control_rate"`
	MaxTinyFrameRate int        `yaml:"max_tiny_frame_rate"`
	AllowedOrigins   StringList `yaml:"allowed_origins"`
	// Extensions is pass (the default) or none: NoExtensions, the
	// client's extensions are not offered upstream.
	Extensions   string `yaml:"extensions"`
	NoExtensions bool   `yaml:"-"`
}

// UpstreamTLS is a route's upstream_tls mapping: how a wss upstream is
// verified, and the pause on SSL errors.
type UpstreamTLS struct {
	UpstreamCA         string `yaml:"ca_file"`
	UpstreamSNI        string `yaml:"sni"`
	UpstreamVerifyName string `yaml:"verify_name"`
	UpstreamCert       string `yaml:"cert_file"`
	UpstreamKey        string `yaml:"key_file"`
	UpstreamVerify     Verify `yaml:",inline"`
	// Pause holds upstream handshakes with SSL errors for a decision
	// through the admin API, for up to PauseTimeout (0: tlsconf's
	// default).
	Pause        bool     `yaml:"pause"`
	PauseTimeout Duration `yaml:"pause_timeout"`
	// PauseMaxPending bounds the pending pause decisions this route's
	// handshakes wait on (0: tlsconf.DefaultMaxPendingPerPolicy).
	PauseMaxPending int `yaml:"pause_max_pending"`
	// SessionResumption is the file's session_resumption (default
	// true): resume TLS sessions with the upstream. Load sets
	// NoSessionResumption when the file turns it off; the builder reads
	// that one, so the zero value resumes.
	SessionResumption   bool `yaml:"session_resumption"`
	NoSessionResumption bool `yaml:"-"`
}

// UpstreamPSK makes a wss upstream use TLS-PSK instead of certificates.
type UpstreamPSK struct {
	UpstreamPSKIdentity string `yaml:"identity"`
	UpstreamPSKKeyFile  string `yaml:"key_file"`
	UpstreamPSKTLS12    bool   `yaml:"tls12"` // also offer the TLS 1.2 PSK suites
}

// EffectivePauseTimeout is how long a paused upstream handshake of the
// route waits for a decision: PauseTimeout, or tlsconf's default.
func (r *Route) EffectivePauseTimeout() time.Duration {
	if r.PauseTimeout > 0 {
		return time.Duration(r.PauseTimeout)
	}
	return defaultPauseTimeout
}
