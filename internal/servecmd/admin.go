package servecmd

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/internal/cli"
	"github.com/wssproxy/wssproxy/internal/config"
	"github.com/wssproxy/wssproxy/proxy"
	"github.com/wssproxy/wssproxy/proxy/admin"
	"github.com/wssproxy/wssproxy/tlsconf"
)

// adminAPI is the admin API of "wssproxy serve"; a nil *adminAPI is no
// admin API and its methods do nothing.
type adminAPI struct {
	cfg       config.Admin
	token     []byte
	unixPath  string
	ln        net.Listener
	srv       *admin.Server
	url       string // base URL for curl
	curlFlags string // --unix-socket and the token header
}

// prepareAdmin reads the token before anything listens; nil without an
// admin API.
func prepareAdmin(cfg config.Admin) (*adminAPI, error) {
	if cfg.Listen == "" {
		return nil, nil
	}
	a := &adminAPI{cfg: cfg}
	if cfg.TokenFile != "" {
		tok, err := admin.LoadToken(cfg.TokenFile)
		if err != nil {
			return nil, config.WithWhere(cfg.Where, err)
		}
		a.token = tok
	}
	if path, ok := strings.CutPrefix(cfg.Listen, "unix:"); ok {
		a.unixPath = path
	}
	return a, nil
}

// listen opens the admin listener (admin.Listen) and prepares the curl
// hints of the log lines.
func (a *adminAPI) listen() error {
	if a == nil {
		return nil
	}
	ln, err := admin.Listen(a.cfg.Listen)
	if err != nil {
		return config.WithWhere(a.cfg.Where, fmt.Errorf("admin API on %s: %w", a.cfg.Listen, err))
	}
	a.ln, a.url = ln, "http://"+ln.Addr().String()
	if a.unixPath != "" {
		a.url, a.curlFlags = "http://localhost", "--unix-socket "+cli.ShellQuote(a.unixPath)+" "
	}
	if a.cfg.TokenFile != "" {
		tf := a.cfg.TokenFile
		if abs, err := filepath.Abs(tf); err == nil {
			tf = abs // the hint works from any folder
		}
		a.curlFlags += `-H "Authorization: Bearer $(cat ` + cli.ShellQuote(tf) + `)" `
	}
	return nil
}

// adminExtras are what an etcd trust store adds to the admin API: the
// fleet's paused handshakes and the degraded state in /readyz.
type adminExtras struct {
	fleet    admin.Fleet // nil without one
	degraded func() string
}

// serve starts answering on the listener.
func (a *adminAPI) serve(built []*builtListener, reg *tlsconf.Registry, m prometheus.Gatherer, extras adminExtras, stdout io.Writer, log zerolog.Logger) error {
	if a == nil {
		return nil
	}
	servers := make([]*proxy.Server, len(built))
	for i, bl := range built {
		servers[i] = bl.srv
	}
	alog := log.With().Str("component", "admin").Logger()
	h, err := admin.New(&admin.Options{Servers: servers, Metrics: m, Registry: reg, Token: a.token, Logger: alog,
		Fleet: extras.fleet, Degraded: extras.degraded})
	if err != nil {
		return err
	}
	a.srv = admin.Serve(a.ln, h, alog)
	auth := "no token: the socket's permissions guard it"
	if a.cfg.TokenFile != "" {
		auth = "bearer token from " + a.cfg.TokenFile
	}
	if a.unixPath != "" {
		fmt.Fprintf(stdout, "admin API:       unix:%s (%s)\n", a.unixPath, auth)
	} else {
		fmt.Fprintf(stdout, "admin API:       %s/ (%s)\n", a.url, auth)
	}
	log.Info().Str("admin", a.cfg.Listen).Str("url", a.url).Msg("admin API serving")
	return nil
}

// stop closes the admin API, letting requests in flight finish for a
// moment. It is called after the drain, so /readyz answers 503 during it.
func (a *adminAPI) stop() {
	switch {
	case a == nil || a.ln == nil:
	case a.srv == nil:
		a.ln.Close()
	default:
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		a.srv.Shutdown(ctx)
	}
}

// curl returns the command that POSTs to path on the admin API.
func (a *adminAPI) curl(path string) string {
	if a == nil {
		return ""
	}
	return "curl -X POST " + a.curlFlags + a.url + path
}

// pauseLogger returns the OnPause hook of a route: it counts the pause
// and logs a warning saying what is wrong and how to resume or abort.
func pauseLogger(log zerolog.Logger, route string, m *proxy.Metrics, a *adminAPI) func(tlsconf.PausedHandshake) {
	return func(p tlsconf.PausedHandshake) {
		m.CountPause()
		errs := make([]string, 0, len(p.Unignored))
		for _, e := range p.Unignored {
			s := e.Kind.String()
			if e.Cert != nil {
				s += ":" + tlsconf.Fingerprint(e.Cert)
			}
			errs = append(errs, s)
		}
		ev := log.Warn().Str("paused_id", p.ID).Str("route", route).Str("sni", p.ServerName).Str("upstream_addr", p.Peer).
			Strs("ssl_errors", errs).Time("deadline", p.Deadline)
		if len(p.Chain) > 0 {
			ev = ev.Str("spki_pin", p.Chain[0].SPKIPin)
		}
		ev.Str("resume", a.curl("/v1/paused/"+p.ID+"/resume")).
			Str("abort", a.curl("/v1/paused/"+p.ID+"/abort")).
			Msg("upstream handshake paused on SSL errors: resume or abort it through the admin API (GET /v1/paused lists it)")
	}
}
