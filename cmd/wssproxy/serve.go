package main

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
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/certs"
	"github.com/wssproxy/wssproxy/proxy"
	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/ws"
)

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
			if set["admin"] {
				fc.admin.listen, fc.admin.where = cfg.admin.listen, ""
			}
			if set["admin-token-file"] {
				fc.admin.tokenFile, fc.admin.where = cfg.admin.tokenFile, ""
			}
			if set["pause-max-pending"] {
				fc.admin.pauseMaxPending = cfg.admin.pauseMaxPending
			}
			if set["pause-max-waiters"] {
				fc.admin.pauseMaxWaiters = cfg.admin.pauseMaxWaiters
			}
			cfg = fc
		}
	}
	if err == nil {
		err = cfg.checkAdmin()
	}
	if code, done := usageExit(stderr, "serve", err); done {
		return code
	}
	log, err := cfg.log.logger(stderr)
	if code, done := usageExit(stderr, "serve", err); done {
		return code
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
	psk    bool   // TLS-PSK clients are accepted
	routes []proxy.Route
	ln     net.Listener
}

// serve runs every listener until ctx ends (SIGTERM), then drains them
// together. Everything is built and checked before the first listen.
func serve(ctx context.Context, cfg serveConfig, stdout io.Writer, log zerolog.Logger) (retErr error) {
	var bg sync.WaitGroup
	defer bg.Wait()
	bgCtx, stopBG := context.WithCancel(context.Background())
	defer stopBG()

	adm, err := prepareAdmin(cfg.admin)
	if err != nil {
		return err
	}
	var ids atomic.Uint64
	b := &builder{log: log, devCAs: map[string]*certs.DevCAResult{}, devHosts: map[string][]string{},
		registry: tlsconf.NewRegistryWithOptions(&tlsconf.RegistryOptions{
			MaxPending: cfg.admin.pauseMaxPending, MaxWaiters: cfg.admin.pauseMaxWaiters}),
		metrics: proxy.NewMetrics(), nextID: func() uint64 { return ids.Add(1) }, admin: adm}
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
		bl.announce(stdout)
	}
	if err := adm.serve(built, b.registry, b.metrics, stdout, log); err != nil {
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
	log.Info().Float64("grace_seconds", cfg.grace.Seconds()).Int("listeners", len(built)).Msg("shutting down: closing every connection with 1001")
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

func withWhere(where string, err error) error {
	if where == "" {
		return err
	}
	return fmt.Errorf("%s: %w", where, err)
}
