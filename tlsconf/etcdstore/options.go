package etcdstore

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Defaults for the zero fields of Options.
const (
	// DefaultPrefix is the key prefix when Options.Prefix is empty.
	DefaultPrefix = "/wssproxy"
	// DefaultDialTimeout bounds Open's first contact with etcd.
	DefaultDialTimeout = 5 * time.Second
	// DefaultOpTimeout bounds each etcd request made for a caller (a
	// write) or by the background loop (a read, a health probe, a
	// retried write).
	DefaultOpTimeout = 2 * time.Second
	// DefaultMaxPendingWrites bounds the writes queued while etcd is away.
	DefaultMaxPendingWrites = 1024
	// DefaultProbeInterval is how often a connected Store checks that
	// etcd still answers (a quorum read).
	DefaultProbeInterval = time.Second
)

// Options configure Open. Open copies them; the zero value of every
// field but Endpoints means its default.
type Options struct {
	// Endpoints are the etcd members' client addresses, host:port (a
	// scheme is not needed: TLS decides). Required.
	Endpoints []string
	// Prefix is the key prefix of one deployment (default
	// DefaultPrefix); it is made to start with '/' and loses a trailing
	// '/'. The Store uses the keys under PREFIX/trust/ (see the package
	// documentation); other packages sharing Client use their own keys
	// under the same prefix.
	Prefix string
	// TLS, if not nil, makes the client speak TLS to etcd (with a client
	// certificate if it holds one). It is cloned; a MinVersion below TLS
	// 1.2 is raised to 1.2. nil means plain TCP.
	TLS *tls.Config
	// Username and Password authenticate to etcd when auth is enabled
	// there. They are never logged.
	Username, Password string
	// CacheFile, if set, holds a copy of the last state read (and of the
	// writes not yet in etcd), so that Open succeeds, degraded, while etcd
	// is unreachable. It holds PSK keys: it is written with mode 0600,
	// atomically (temporary file and rename), and refused when the group
	// or others may access it. One Store per file.
	CacheFile string
	// DialTimeout bounds Open's first read of etcd (default
	// DefaultDialTimeout); when it fails, Open takes at most a second
	// more to find out why (see Open).
	DialTimeout time.Duration
	// OpTimeout bounds each etcd request (default DefaultOpTimeout): no
	// method blocks longer than this, however etcd fails.
	OpTimeout time.Duration
	// MaxPendingWrites bounds the writes queued while etcd is away
	// (default DefaultMaxPendingWrites); a write to a key already queued
	// replaces it. A write beyond the bound fails with ErrQueueFull.
	MaxPendingWrites int
	// ProbeInterval is how often a connected Store checks that etcd still
	// answers (default DefaultProbeInterval, at least 10ms). A lost etcd
	// is noticed within ProbeInterval + OpTimeout, or at the first failed
	// write.
	ProbeInterval time.Duration
	// Logger receives the transitions between connected and degraded
	// (once each), skipped malformed values (naming the key), and queued
	// writes that etcd refused. It never receives a key, a password or a
	// stored value of a PSK identity. The zero value logs nothing.
	Logger zerolog.Logger
}

// withDefaults returns a normalized copy of o.
func (o *Options) withDefaults() (Options, error) {
	var c Options
	if o != nil {
		c = *o
	}
	c.Endpoints = slices.Clone(c.Endpoints)
	if len(c.Endpoints) == 0 {
		return c, errors.New("etcdstore: no etcd endpoints")
	}
	for i, ep := range c.Endpoints {
		hostPort := ep
		if _, rest, ok := strings.Cut(ep, "://"); ok {
			hostPort = rest
		}
		if _, _, err := net.SplitHostPort(hostPort); err != nil {
			return c, fmt.Errorf("etcdstore: endpoint %q: want host:port: %w", ep, err)
		}
		c.Endpoints[i] = ep
	}
	c.Prefix = strings.TrimRight(c.Prefix, "/")
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if !strings.HasPrefix(c.Prefix, "/") {
		c.Prefix = "/" + c.Prefix
	}
	if strings.ContainsFunc(c.Prefix, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return c, fmt.Errorf("etcdstore: prefix %q holds a control character", c.Prefix)
	}
	if c.TLS != nil {
		c.TLS = c.TLS.Clone()
		if c.TLS.MinVersion < tls.VersionTLS12 {
			c.TLS.MinVersion = tls.VersionTLS12
		}
	}
	if (c.Username == "") != (c.Password == "") {
		return c, errors.New("etcdstore: a username needs a password and a password a username")
	}
	c.DialTimeout = positiveOr(c.DialTimeout, DefaultDialTimeout)
	c.OpTimeout = positiveOr(c.OpTimeout, DefaultOpTimeout)
	c.MaxPendingWrites = positiveOr(c.MaxPendingWrites, DefaultMaxPendingWrites)
	c.ProbeInterval = max(positiveOr(c.ProbeInterval, DefaultProbeInterval), 10*time.Millisecond)
	return c, nil
}

// positiveOr returns v if it is positive, else def.
func positiveOr[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
