package servecmd

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/certs"
	"github.com/wssproxy/wssproxy/internal/cli"
	"github.com/wssproxy/wssproxy/internal/config"
	"github.com/wssproxy/wssproxy/proxy"
	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/ws"
)

// Run is "wssproxy serve ARGS...": it serves until ctx ends (SIGTERM or
// SIGINT in main) and returns the exit status: 0 after a drain or a
// passing --check, 1 when serving failed, 2 on a usage error or a failed
// --check.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, file, set, err := parseServeFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil && file != "" {
		var fc config.Config
		if fc, err = config.Load(file); err == nil {
			fc.Override(cfg, set)
			cfg = fc
		}
	}
	if err == nil {
		err = cfg.CheckAdmin()
	}
	if code, done := cli.UsageExit(stderr, "serve", err); done {
		return code
	}
	log, err := cli.LogFlags{Format: cfg.Log.Format, Level: cfg.Log.Level}.Logger(stderr)
	if code, done := cli.UsageExit(stderr, "serve", err); done {
		return code
	}
	if set["check"] {
		errs := checkConfig(cfg, log)
		for _, err := range errs {
			fmt.Fprintf(stderr, "wssproxy serve --check: %v\n", err)
		}
		if len(errs) > 0 {
			return 2
		}
		routes := 0
		for _, l := range cfg.Listeners {
			routes += len(l.Routes)
		}
		fmt.Fprintf(stdout, "wssproxy serve --check: configuration OK (%d listeners, %d routes)\n", len(cfg.Listeners), routes)
		return 0
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
	cfg    *config.Listener
	srv    *proxy.Server
	tls    *tls.Config
	src    certs.Source
	pin    string // SPKI pin of a file or dev-CA certificate
	caFile string // the dev CA to trust
	psk    bool   // TLS-PSK clients are accepted
	routes []proxy.Route
	ln     net.Listener
}

// newBuilder returns the builder of cfg's listeners, sharing the pause
// registry, the metrics and the connection ids among them.
func newBuilder(cfg config.Config, log zerolog.Logger, adm *adminAPI, store *trustStore) *builder {
	var ids atomic.Uint64
	var pins tlsconf.TrustStore
	if store != nil {
		pins = store.pins()
	}
	b := &builder{log: log, store: store, devCAs: map[string]*certs.DevCAResult{}, devHosts: map[string][]string{},
		registry: tlsconf.NewRegistryWithOptions(&tlsconf.RegistryOptions{
			MaxPending: cfg.Admin.PauseMaxPending, MaxWaiters: cfg.Admin.PauseMaxWaiters, Store: pins}),
		metrics: proxy.NewMetrics(), nextID: func() uint64 { return ids.Add(1) }, admin: adm}
	for _, l := range cfg.Listeners {
		if l.DevCert.Enabled {
			// Listeners sharing a dev CA folder share its leaf: it covers
			// the hosts of all of them.
			for _, h := range l.DevCert.Hosts {
				if !slices.Contains(b.devHosts[l.DevCert.Dir], h) {
					b.devHosts[l.DevCert.Dir] = append(b.devHosts[l.DevCert.Dir], h)
				}
			}
		}
	}
	return b
}

// checkConfig builds what serve would before listening (certificates and
// keys, PSK files, upstream TLS, the admin token) and tries every address
// it would listen on, without serving. It returns every error met. A
// development certificate is not created: serve does that on its first
// start.
func checkConfig(cfg config.Config, log zerolog.Logger) []error {
	var errs []error
	adm, err := prepareAdmin(cfg.Admin)
	if err != nil {
		errs = append(errs, err)
	}
	var b *builder
	if store, err := openStore(context.Background(), cfg, log); err != nil {
		errs = append(errs, err)
		b = newBuilder(cfg, log, adm, nil)
	} else {
		defer store.close(log)
		b = newBuilder(cfg, log, adm, store)
		ctx, cancel := context.WithTimeout(context.Background(), tlsconf.DefaultStoreTimeout)
		if err := loadPins(ctx, b.registry, store, log); err != nil {
			errs = append(errs, err)
		}
		cancel()
	}
	b.check = true
	for i := range cfg.Listeners {
		l := &cfg.Listeners[i]
		bl, err := b.listener(l)
		if err != nil {
			errs = append(errs, config.WithWhere(l.Where, err))
		} else if acme, ok := bl.src.(*certs.ACMESource); ok {
			acme.Close()
		}
		addrs := []string{l.Listen}
		if l.ACME != nil && l.ACME.HTTP != "" {
			addrs = append(addrs, l.ACME.HTTP)
		}
		for _, addr := range addrs {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				errs = append(errs, config.WithWhere(l.Where, fmt.Errorf("listening on %s: %w", addr, err)))
				continue
			}
			ln.Close()
		}
	}
	switch {
	case adm != nil && adm.unixPath != "":
		// Listening would replace the socket of a running instance.
		if _, err := os.Stat(filepath.Dir(adm.unixPath)); err != nil {
			errs = append(errs, config.WithWhere(cfg.Admin.Where, fmt.Errorf("admin API socket folder: %w", err)))
		}
	default:
		if err := adm.listen(); err != nil {
			errs = append(errs, err)
		}
		adm.stop()
	}
	if err := b.close(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// serve runs every listener until ctx ends (SIGTERM), then drains them
// together. Everything is built and checked before the first listen.
func serve(ctx context.Context, cfg config.Config, stdout io.Writer, log zerolog.Logger) (retErr error) {
	var bg sync.WaitGroup
	defer bg.Wait()
	bgCtx, stopBG := context.WithCancel(context.Background())
	defer stopBG()

	adm, err := prepareAdmin(cfg.Admin)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		// After everything using the store's etcd client (the fleet,
		// ACME, the pin watch) stopped.
		stopBG()
		bg.Wait()
		store.close(log)
	}()
	b := newBuilder(cfg, log, adm, store)
	loadCtx, cancelLoad := context.WithTimeout(ctx, tlsconf.DefaultStoreTimeout)
	err = loadPins(loadCtx, b.registry, store, log)
	cancelLoad()
	if err != nil {
		return err
	}
	promReg := prometheus.NewRegistry()
	for _, c := range append([]prometheus.Collector{b.metrics, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}, store.collectors()...) {
		if err := promReg.Register(c); err != nil {
			return err
		}
	}
	defer func() {
		// After the drain: the built-in echo server is joined, and the
		// error that stopped it early is reported.
		if err := b.close(); err != nil {
			log.Error().Err(err).Msg("built-in echo server failed")
			if retErr == nil {
				retErr = err
			}
		}
	}()
	var built []*builtListener
	for i := range cfg.Listeners {
		bl, err := b.listener(&cfg.Listeners[i])
		if err != nil {
			return config.WithWhere(cfg.Listeners[i].Where, err)
		}
		built = append(built, bl)
	}

	for _, bl := range built {
		ln, err := net.Listen("tcp", bl.cfg.Listen)
		if err != nil {
			for _, o := range built {
				if o.ln != nil {
					o.ln.Close()
				}
			}
			return config.WithWhere(bl.cfg.Where, fmt.Errorf("listening on %s: %w", bl.cfg.Listen, err))
		}
		bl.ln = ln
	}
	if err := adm.listen(); err != nil {
		for _, o := range built {
			o.ln.Close()
		}
		return err
	}
	defer adm.stop() // after the drain: /readyz says 503 during it

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
		if addr := bl.cfg.ACME.HTTP; addr != "" {
			hln, err := net.Listen("tcp", addr)
			if err != nil {
				for _, o := range built {
					o.ln.Close()
				}
				return config.WithWhere(bl.cfg.Where, fmt.Errorf("ACME HTTP-01 listener %s: %w", addr, err))
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

	// Pins remembered or revoked by another process, or by a person
	// editing the file, apply without a restart.
	bg.Go(func() {
		_ = b.registry.WatchPins(bgCtx, func(err error) {
			log.Error().Err(err).Str("store", store.String()).Msg("trust store: reloading the remembered pins failed; keeping the previous ones")
		})
	})
	for _, bl := range built {
		bl.announce(stdout)
	}
	fl, err := startFleet(bgCtx, &bg, cfg, store, b.registry, log)
	if err != nil {
		for _, o := range built {
			o.ln.Close()
		}
		return err
	}
	if err := adm.serve(built, b.registry, promReg, adminExtras{fleet: fl, degraded: store.degraded}, stdout, log); err != nil {
		for _, o := range built {
			o.ln.Close()
		}
		return err
	}
	// Logged after the whole banner: on a terminal, log lines (stderr)
	// would split it.
	for _, bl := range built {
		bl.logServing(log)
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
	case <-b.echoDone():
		// The built-in echo server's listener failed: every route using
		// it is dead. b.close reports why.
		log.Error().Err(b.echo.Err()).Msg("the built-in echo server failed; shutting down")
	case <-ctx.Done():
	}
	log.Info().Float64("grace_seconds", cfg.Grace.D().Seconds()).Int("listeners", len(built)).Msg("shutting down: closing every connection with 1001")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Grace.D())
	defer cancel()
	var drain sync.WaitGroup
	for _, bl := range built {
		drain.Go(func() {
			if err := bl.srv.Shutdown(sctx, ws.StatusGoingAway, "proxy shutting down"); err != nil {
				log.Warn().Err(err).Str("listener", bl.cfg.Listen).Msg("connections aborted after the grace period")
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
