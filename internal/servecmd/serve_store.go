package servecmd

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/internal/config"
	"github.com/wssproxy/wssproxy/internal/privatefile"
	"github.com/wssproxy/wssproxy/proxy"
	"github.com/wssproxy/wssproxy/proxy/admin"
	"github.com/wssproxy/wssproxy/proxy/fleet"
	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/tlsconf/etcdstore"
)

// trustStore is serve's trust store (--store, the file's store key;
// default: upstream_pins in the state directory): a file, or etcd shared
// by a fleet.
type trustStore struct {
	spec config.Store
	file *tlsconf.FileStore
	etcd *etcdstore.Store
}

// pins is the store as the pause registry uses it.
func (s *trustStore) pins() tlsconf.TrustStore {
	if s.etcd != nil {
		return s.etcd
	}
	return s.file
}

// String names the store in logs and errors (never with credentials).
func (s *trustStore) String() string {
	if s.etcd != nil {
		return s.spec.String()
	}
	return s.file.Path()
}

// close releases an etcd store (its cache file is saved); a file store
// holds nothing open.
func (s *trustStore) close(log zerolog.Logger) {
	if s == nil || s.etcd == nil {
		return
	}
	if err := s.etcd.Close(); err != nil {
		log.Warn().Err(err).Msg("trust store: closing etcd")
	}
}

// degraded says why the store serves from its cache ("" when it does
// not): etcd unreachable.
func (s *trustStore) degraded() string {
	if s == nil || s.etcd == nil {
		return ""
	}
	st := s.etcd.Status()
	if !st.Degraded {
		return ""
	}
	why := "etcd unreachable since " + st.Since.UTC().Format("2006-01-02T15:04:05Z") + ": serving the cached trust store"
	if st.PendingWrites > 0 {
		why += fmt.Sprintf(" (writes queued: %d)", st.PendingWrites)
	}
	return why
}

// collectors are the store's gauges: wssproxy_store_degraded and
// wssproxy_store_pending_writes (an etcd store only).
func (s *trustStore) collectors() []prometheus.Collector {
	if s.etcd == nil {
		return nil
	}
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: proxy.MetricsPrefix + "store_degraded",
			Help: "1 while the etcd trust store is unreachable and serve answers from its cached state, else 0."}, func() float64 {
			if s.etcd.Status().Degraded {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: proxy.MetricsPrefix + "store_pending_writes",
			Help: "Trust store writes (pins, PSK identities) made while etcd was unreachable, not yet in etcd."}, func() float64 {
			return float64(s.etcd.Status().PendingWrites)
		}),
	}
}

// openStore opens serve's trust store. An etcd store is read within its
// dial timeout; unreachable, it starts from its cache file (degraded) or,
// without one, fails.
func openStore(ctx context.Context, cfg config.Config, log zerolog.Logger) (*trustStore, error) {
	spec, err := config.ParseStore(cfg.Store)
	if err != nil {
		return nil, err
	}
	if spec.Kind != "etcd" {
		if cfg.StoreEtcd != (config.StoreEtcd{}) {
			return nil, config.WithWhere(cfg.StoreEtcd.Where, errors.New("the store_etcd settings need store: etcd://HOST:PORT,…/PREFIX"))
		}
		s, err := tlsconf.NewFileStore(spec.Path, nil)
		if err != nil {
			return nil, fmt.Errorf("trust store: %w", err)
		}
		return &trustStore{spec: spec, file: s}, nil
	}
	o, err := etcdOptions(spec, cfg.StoreEtcd, log)
	if err != nil {
		return nil, config.WithWhere(cfg.StoreEtcd.Where, fmt.Errorf("trust store %s: %w", spec, err))
	}
	s, err := etcdstore.Open(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("trust store %s: %w", spec, err)
	}
	if st := s.Status(); st.Degraded {
		log.Warn().Str("store", spec.String()).Str("cache_file", o.CacheFile).Err(st.Err).
			Msg("trust store: etcd unreachable at start; serving its cached state until it answers")
	}
	return &trustStore{spec: spec, etcd: s}, nil
}

// etcdOptions builds the etcd store's options: TLS from the CA and client
// certificate files, the password from its file, the default cache file.
func etcdOptions(spec config.Store, e config.StoreEtcd, log zerolog.Logger) (*etcdstore.Options, error) {
	o := &etcdstore.Options{Endpoints: spec.Endpoints, Prefix: spec.Prefix, Username: e.Username, CacheFile: e.CacheFile,
		DialTimeout: e.DialTimeout.D(), OpTimeout: e.OpTimeout.D(), Logger: log.With().Str("component", "store").Logger()}
	if e.TLS() {
		o.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		if e.CAFile != "" {
			pem, err := os.ReadFile(e.CAFile)
			if err != nil {
				return nil, fmt.Errorf("etcd CA: %w", err)
			}
			o.TLS.RootCAs = x509.NewCertPool()
			if !o.TLS.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("etcd CA %s: no PEM certificate", e.CAFile)
			}
		}
		if e.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(e.CertFile, e.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("etcd client certificate: %w", err)
			}
			o.TLS.Certificates = []tls.Certificate{cert}
		}
	}
	if e.PasswordFile != "" {
		pw, err := readPasswordFile(e.PasswordFile)
		if err != nil {
			return nil, err
		}
		o.Password = pw
	}
	if o.CacheFile == "" {
		f, err := config.DefaultEtcdCacheFile(spec.Prefix)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
			return nil, fmt.Errorf("etcd cache folder: %w", err)
		}
		o.CacheFile = f
	}
	return o, nil
}

// errInsecurePasswordFile is why an etcd password file the group or
// others may access is refused.
var errInsecurePasswordFile = errors.New("etcd password file is accessible by group or others (chmod 600)")

// readPasswordFile reads the etcd password: the file's first line, from
// a regular file only its owner may access (at most 4 KiB). Errors name
// the file, never its content.
func readPasswordFile(path string) (string, error) {
	data, err := privatefile.Read(path, 4096, errInsecurePasswordFile)
	if err != nil {
		if errors.Is(err, errInsecurePasswordFile) {
			return "", err
		}
		return "", fmt.Errorf("etcd password file: %w", err)
	}
	defer clear(data)
	line, _, _ := bytes.Cut(data, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) == 0 {
		return "", fmt.Errorf("etcd password file %s: empty first line", path)
	}
	return string(line), nil
}

// loadPins reads the remembered pins into the registry at start: a store
// that cannot be read (a malformed line, a file others may write) stops
// serve before it listens.
func loadPins(ctx context.Context, reg *tlsconf.Registry, store *trustStore, log zerolog.Logger) error {
	if err := reg.LoadPins(ctx); err != nil {
		return fmt.Errorf("trust store: %w", err)
	}
	pins, _ := reg.Pins(ctx)
	log.Debug().Str("store", store.String()).Int("pins", len(pins)).Msg("remembered upstream pins loaded")
	return nil
}

// startFleet runs the fleet's paused-handshake sharing (package
// proxy/fleet) on an etcd store's client until ctx ends; nil (no fleet)
// with a file store.
func startFleet(ctx context.Context, bg *sync.WaitGroup, cfg config.Config, store *trustStore, reg *tlsconf.Registry, log zerolog.Logger) (admin.Fleet, error) {
	if store.etcd == nil {
		return nil, nil
	}
	f, err := fleet.New(&fleet.Options{Client: store.etcd.Client, Prefix: store.etcd.Prefix(), Instance: cfg.StoreEtcd.Instance,
		Registry: reg, OpTimeout: cfg.StoreEtcd.OpTimeout.D(), Logger: log.With().Str("component", "fleet").Logger()})
	if err != nil {
		return nil, config.WithWhere(cfg.StoreEtcd.Where, err)
	}
	bg.Go(func() { _ = f.Run(ctx) })
	log.Info().Str("instance", f.Instance()).Str("store", store.String()).Msg("fleet member: paused handshakes shared through etcd")
	return f, nil
}
