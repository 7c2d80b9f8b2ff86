package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3"
	"github.com/rs/zerolog"
)

// Well-known ACME directory URLs for [ACMEOptions].CA.
const (
	LetsEncryptProduction = certmagic.LetsEncryptProductionCA
	LetsEncryptStaging    = certmagic.LetsEncryptStagingCA
)

// ACMETLSALPNProto is the ALPN protocol of TLS-ALPN-01 challenges
// (RFC 8737 §6.2). Listeners that answer them must offer it; [TLSConfig]
// adds it for an ACMESource.
const ACMETLSALPNProto = acmez.ACMETLS1Protocol

// ErrOnDemandRefused is returned (wrapped) by the on-demand decision for a
// server name outside ACMEOptions.OnDemandAllow; the handshake then fails
// without contacting the CA.
var ErrOnDemandRefused = errors.New("certs: on-demand issuance refused: name not in the allow-list")

// ACMEOptions configures an [ACMESource]. Using it means agreeing to the
// CA's subscriber agreement (terms of service).
type ACMEOptions struct {
	// Domains are obtained (or loaded from storage) by Manage and then
	// renewed in the background.
	Domains []string
	// OnDemandAllow enables on-demand issuance during handshakes for the
	// listed names only: exact names, or "*.example.com" for any single
	// label under example.com. Empty means no on-demand issuance: names
	// outside Domains then get no certificate. There is no way to allow
	// every name, so a client cannot make the CA issue for arbitrary SNI.
	OnDemandAllow []string
	// CA is the ACME directory URL; empty means LetsEncryptProduction.
	// With Let's Encrypt production, certmagic retries a failed order
	// against Let's Encrypt staging first, sparing production rate limits.
	CA string
	// RootCAs verifies the ACME server's HTTPS certificate; nil means the
	// system roots. Set it for private or test CAs (Pebble).
	RootCAs *x509.CertPool
	// Email is the ACME account's contact address; optional.
	Email string
	// StorageDir holds accounts, certificates and keys; empty means
	// StateDir()/acme. Instances sharing it share certificates. It is
	// ignored when Storage is set.
	StorageDir string
	// Storage, when set, holds accounts, certificates, keys, challenge
	// tokens and the locks that coordinate issuance, instead of a
	// certmagic file storage in StorageDir. Instances sharing one storage
	// (for example certs/etcdstorage on one etcd cluster and prefix)
	// obtain and renew each certificate once and all serve it, and any
	// of them answers the CA's challenges. The source never closes it.
	// Nil means the file storage in StorageDir.
	Storage certmagic.Storage

	// ListenHost is the host (IP address) the challenge listeners are
	// bound to; empty means all interfaces.
	ListenHost string
	// HTTPPort is the port of the listener serving HTTPHandler, where the
	// CA's HTTP-01 requests arrive (after any port forwarding); zero
	// means 80.
	HTTPPort int
	// TLSPort is the port of the TLS listener configured with TLSConfig,
	// where TLS-ALPN-01 handshakes arrive; zero means 443.
	TLSPort int
	// DisableHTTP01 and DisableTLSALPN01 turn the challenge types off.
	DisableHTTP01, DisableTLSALPN01 bool

	// ReusePrivateKeys keeps the certificate's private key across
	// renewals, so SPKI pins held by clients stay valid. Without it every
	// renewal has a new key.
	ReusePrivateKeys bool
	// ClientsPinSPKI says that clients pin this server's public key; with
	// ReusePrivateKeys off, NewACMESource then logs a warning, because
	// the next renewal will break those clients.
	ClientsPinSPKI bool
	// RenewalWindowRatio is the fraction of a certificate's lifetime left
	// at which it is renewed; zero means certmagic's default (1/3).
	RenewalWindowRatio float64

	// Logger receives this source's and certmagic's logs. The zero value
	// logs nothing.
	Logger zerolog.Logger
}

// ACMESource obtains and renews certificates over ACME with certmagic,
// using only its own certmagic cache and configuration (never certmagic's
// package-level defaults). Certificates are served from certmagic's
// in-memory cache; renewals happen in the background and replace cache
// entries, and a failed renewal keeps the current certificate.
//
// Challenges are answered by the caller's own listeners: wrap the handler
// of the plain-HTTP listener on HTTPPort with HTTPHandler (HTTP-01), and
// serve the TLS listener on TLSPort with TLSConfig(src, …), which offers
// the acme-tls/1 protocol (TLS-ALPN-01). Start those listeners before
// Manage; if a port is free when a challenge starts, certmagic binds it
// itself for the challenge's duration.
//
// Close stops background maintenance.
type ACMESource struct {
	opts   ACMEOptions
	cache  *certmagic.Cache
	magic  *certmagic.Config
	issuer *certmagic.ACMEIssuer
	stop   sync.Once
}

// NewACMESource validates opts and sets up certmagic; it does not contact
// the CA (Manage does, as do on-demand handshakes). The returned source
// runs certmagic's maintenance goroutine until Close.
func NewACMESource(opts *ACMEOptions) (*ACMESource, error) {
	var o ACMEOptions
	if opts != nil {
		o = *opts
		o.Domains = slices.Clone(opts.Domains)
		o.OnDemandAllow = slices.Clone(opts.OnDemandAllow)
	}
	if len(o.Domains) == 0 && len(o.OnDemandAllow) == 0 {
		return nil, errors.New("certs: acme: no domains and no on-demand allow-list")
	}
	for i, d := range o.Domains {
		o.Domains[i] = strings.ToLower(strings.TrimSpace(d))
		if !certmagic.SubjectQualifiesForCert(o.Domains[i]) {
			return nil, fmt.Errorf("certs: acme: invalid domain %q", d)
		}
	}
	for i, d := range o.OnDemandAllow {
		o.OnDemandAllow[i] = strings.ToLower(strings.TrimSpace(d))
		if !certmagic.SubjectQualifiesForCert(o.OnDemandAllow[i]) || o.OnDemandAllow[i] == "*" {
			return nil, fmt.Errorf("certs: acme: invalid on-demand allow-list entry %q", d)
		}
	}
	if o.DisableHTTP01 && o.DisableTLSALPN01 {
		return nil, errors.New("certs: acme: both challenge types are disabled")
	}
	if o.CA == "" {
		o.CA = LetsEncryptProduction
	}
	if o.HTTPPort == 0 {
		o.HTTPPort = 80
	}
	if o.TLSPort == 0 {
		o.TLSPort = 443
	}
	if o.Storage == nil && o.StorageDir == "" {
		sd, err := StateDir()
		if err != nil {
			return nil, err
		}
		o.StorageDir = filepath.Join(sd, "acme")
	}
	log := o.Logger.With().Str("source", "acme").Logger()
	zl := newZapLogger(log)

	s := &ACMESource{opts: o}
	// The cache's maintenance goroutine starts inside NewCache and may ask
	// for the config before New returns it.
	var cfgPtr atomic.Pointer[certmagic.Config]
	cache := certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) {
			if c := cfgPtr.Load(); c != nil {
				return c, nil
			}
			return nil, errors.New("certs: acme: source not initialised yet")
		},
		Logger: zl,
	})
	magic := certmagic.New(cache, certmagic.Config{
		RenewalWindowRatio: o.RenewalWindowRatio,
		ReusePrivateKeys:   o.ReusePrivateKeys,
		Storage:            o.storage(),
		Logger:             zl,
	})
	if len(o.Domains) > 0 {
		// Clients without SNI (connecting by IP address) get the first
		// domain's certificate.
		magic.DefaultServerName = o.Domains[0]
	}
	if len(o.OnDemandAllow) > 0 {
		magic.OnDemand = &certmagic.OnDemandConfig{DecisionFunc: s.decide}
	}
	iss := certmagic.NewACMEIssuer(magic, certmagic.ACMEIssuer{
		CA:                      o.CA,
		Email:                   o.Email,
		Agreed:                  true,
		DisableHTTPChallenge:    o.DisableHTTP01,
		DisableTLSALPNChallenge: o.DisableTLSALPN01,
		ListenHost:              o.ListenHost,
		AltHTTPPort:             o.HTTPPort,
		AltTLSALPNPort:          o.TLSPort,
		TrustedRoots:            o.RootCAs,
		Logger:                  zl,
	})
	magic.Issuers = []certmagic.Issuer{nonInteractive{iss}}
	s.cache, s.magic, s.issuer = cache, magic, iss
	cfgPtr.Store(magic)

	if o.ClientsPinSPKI && !o.ReusePrivateKeys {
		log.Warn().Strs("domains", o.Domains).
			Msg("certs: clients pin this server's SPKI but ACME renewals rotate the key; enable private key reuse, or the pins break at the next renewal")
	}
	log.Info().Str("ca", o.CA).Strs("domains", o.Domains).Strs("on_demand", o.OnDemandAllow).
		Str("storage", o.storageName()).Bool("reuse_keys", o.ReusePrivateKeys).Msg("certs: acme source ready")
	return s, nil
}

// storage returns Storage, or a file storage in StorageDir.
func (o *ACMEOptions) storage() certmagic.Storage {
	if o.Storage != nil {
		return o.Storage
	}
	return &certmagic.FileStorage{Path: o.StorageDir}
}

// storageName names the storage in logs and Describe: "file:" and the
// directory, or the String of a Storage that has one (etcdstorage gives
// "etcd:" and its key prefix), else its type.
func (o *ACMEOptions) storageName() string {
	if o.Storage == nil {
		return "file:" + o.StorageDir
	}
	if s, ok := o.Storage.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", o.Storage)
}

// nonInteractive wraps the ACME issuer so certmagic never prompts on
// standard input (for an e-mail address or terms agreement), which it
// would do in its synchronous obtain and renew paths when no e-mail
// address is configured. A proxy has no user at its terminal.
type nonInteractive struct {
	*certmagic.ACMEIssuer
}

func (n nonInteractive) PreCheck(ctx context.Context, names []string, _ bool) error {
	return n.ACMEIssuer.PreCheck(ctx, names, false)
}

// allowed reports whether name is in the on-demand allow-list.
func (s *ACMESource) allowed(name string) bool {
	name = strings.ToLower(name)
	for _, a := range s.opts.OnDemandAllow {
		if suffix, ok := strings.CutPrefix(a, "*."); ok {
			label, rest, found := strings.Cut(name, ".")
			if found && label != "" && rest == suffix {
				return true
			}
			continue
		}
		if a == name {
			return true
		}
	}
	return false
}

// decide is certmagic's on-demand DecisionFunc.
func (s *ACMESource) decide(_ context.Context, name string) error {
	if s.allowed(name) {
		return nil
	}
	s.opts.Logger.Warn().Str("name", name).Msg("certs: refused on-demand certificate for a name outside the allow-list")
	return fmt.Errorf("%w: %q", ErrOnDemandRefused, name)
}

// Manage obtains certificates for Domains, or loads them from storage, and
// keeps them renewed in the background. It blocks until each domain has a
// certificate or fails; the challenge listeners must already be running.
func (s *ACMESource) Manage(ctx context.Context) error {
	if len(s.opts.Domains) == 0 {
		return nil
	}
	if err := s.magic.ManageSync(ctx, s.opts.Domains); err != nil {
		return fmt.Errorf("certs: acme: %w", err)
	}
	return nil
}

// GetCertificate returns the certificate for hello from certmagic's cache,
// answers TLS-ALPN-01 challenge handshakes, and obtains allowed on-demand
// certificates (which blocks that handshake until issued). It has the
// signature of tls.Config.GetCertificate.
func (s *ACMESource) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.magic.GetCertificate(hello)
}

// NextProtos returns the ALPN protocols a listener serving this source
// must offer: acme-tls/1 unless TLS-ALPN-01 is disabled.
func (s *ACMESource) NextProtos() []string {
	if s.opts.DisableTLSALPN01 {
		return nil
	}
	return []string{ACMETLSALPNProto}
}

// HTTPHandler returns a handler that answers ACME HTTP-01 challenge
// requests (/.well-known/acme-challenge/…) and passes every other request
// to next. Serve it on the plain-HTTP listener on HTTPPort.
func (s *ACMESource) HTTPHandler(next http.Handler) http.Handler {
	if next == nil {
		next = http.NotFoundHandler()
	}
	return s.issuer.HTTPChallengeHandler(next)
}

// Reload reloads each of Domains from storage, picking up certificates
// renewed by another instance sharing the storage, and obtains those
// that are missing. On failure the certificates in memory stay in use.
func (s *ACMESource) Reload(ctx context.Context) error {
	var errs []error
	for _, d := range s.opts.Domains {
		err := s.refresh(ctx, d)
		if errors.Is(err, fs.ErrNotExist) {
			err = s.magic.ManageSync(ctx, []string{d})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("certs: acme reload %s: %w", d, err))
		}
	}
	err := errors.Join(errs...)
	if err != nil {
		s.opts.Logger.Error().Err(err).Msg("certs: acme reload failed; keeping the certificates in memory")
	}
	return err
}

// Renew renews the certificate for name now (if force is true, even when
// it is not due) and serves the new one from the next handshake on. On
// failure the current certificate stays in use.
func (s *ACMESource) Renew(ctx context.Context, name string, force bool) error {
	if err := s.magic.RenewCertSync(ctx, name, force); err != nil {
		return fmt.Errorf("certs: acme renew %s: %w", name, err)
	}
	if err := s.refresh(ctx, name); err != nil {
		return fmt.Errorf("certs: acme renew %s: %w", name, err)
	}
	return nil
}

// refresh loads name's certificate from storage into the cache and drops
// the other cached certificates for exactly that name.
func (s *ACMESource) refresh(ctx context.Context, name string) error {
	var before []certmagic.Certificate
	for _, c := range s.cache.AllMatchingCertificates(name) {
		if slices.Contains(c.Names, name) {
			before = append(before, c)
		}
	}
	cur, err := s.magic.CacheManagedCertificate(ctx, name)
	if err != nil {
		return err
	}
	var stale []string
	for _, c := range before {
		if c.Hash() != cur.Hash() {
			stale = append(stale, c.Hash())
		}
	}
	s.cache.Remove(stale)
	return nil
}

// Describe returns the CA, domains, on-demand allow-list and storage
// ("file:" and the directory, or the given Storage's description).
func (s *ACMESource) Describe() string {
	return fmt.Sprintf("acme ca=%s domains=%v on_demand=%v storage=%s reuse_keys=%t",
		s.opts.CA, s.opts.Domains, s.opts.OnDemandAllow, s.opts.storageName(), s.opts.ReusePrivateKeys)
}

// Close stops certmagic's background maintenance (renewals). It is safe to
// call more than once. Handshakes still work from the cache afterwards,
// but nothing is renewed.
func (s *ACMESource) Close() error {
	s.stop.Do(s.cache.Stop)
	return nil
}
