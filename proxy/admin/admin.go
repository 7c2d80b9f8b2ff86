package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/proxy"
	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/ws"
)

// Options configure the admin handler; New copies them.
type Options struct {
	// Servers are the proxy Servers whose connections are listed and
	// closed. Give them one proxy.Options.NextID so that connection ids
	// are unique among them.
	Servers []*proxy.Server
	// Metrics is what /metrics serves, besides the admin API's own gauges
	// (wssproxy_paused_handshakes, wssproxy_pause_decisions_pending,
	// wssproxy_ready): typically the caller's prometheus.Registry holding
	// the Servers' shared proxy.Metrics and the Go and process
	// collectors. nil means a registry of the Servers' own proxy.Metrics,
	// which must then be one shared set (proxy.Options.Metrics).
	Metrics prometheus.Gatherer
	// Registry holds the paused upstream handshakes (the Registry of the
	// routes' tlsconf policies); nil lists none.
	Registry *tlsconf.Registry
	// Token, if not empty, is the bearer token every endpoint except
	// /healthz and /readyz requires (see LoadToken). Leave it empty only
	// on a unix socket.
	Token []byte
	// Ready answers /readyz; nil means every Server is Ready (serving and
	// not draining).
	Ready func() bool
	// Logger receives a line per operator action (close, resume, abort)
	// and per refused token; the zero value logs nothing.
	Logger zerolog.Logger
	// MaxBodyBytes bounds request bodies; more is answered with 413.
	// Default 64 KiB.
	MaxBodyBytes int64
	// Fleet, if set, adds the paused handshakes of the other instances
	// sharing a store to GET /v1/paused and carries resume and abort of
	// theirs to them (see package proxy/fleet). Each entry then names
	// its instance.
	Fleet Fleet
	// Degraded, if set, is asked by /readyz: a non-empty answer (why)
	// is reported in the body, still with 200: the instance serves from
	// its cached trust decisions (a shared store is unreachable).
	Degraded func() string
}

// handler is the admin API; see the package documentation.
type handler struct {
	opts      Options
	tokenHash [sha256.Size]byte
	mux       *http.ServeMux
	prom      http.Handler // /metrics
}

// New returns the admin API handler. It fails when Metrics is nil and the
// Servers count into different sets.
func New(opts *Options) (http.Handler, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.Servers = append([]*proxy.Server(nil), o.Servers...)
	o.Token = bytes.Clone(o.Token)
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 64 << 10
	}
	if o.Metrics == nil && len(o.Servers) > 0 {
		m := o.Servers[0].Metrics()
		for _, s := range o.Servers[1:] {
			if s.Metrics() != m {
				return nil, errors.New("admin: the Servers count into different Metrics: share one (proxy.Options.Metrics) or set Options.Metrics")
			}
		}
		reg := prometheus.NewRegistry()
		if err := reg.Register(m); err != nil {
			return nil, fmt.Errorf("admin: %w", err)
		}
		o.Metrics = reg
	}
	if o.Ready == nil {
		servers := o.Servers
		o.Ready = func() bool {
			for _, s := range servers {
				if !s.Ready() {
					return false
				}
			}
			return len(servers) > 0
		}
	}
	h := &handler{opts: o, mux: http.NewServeMux()}
	own, err := h.ownMetrics()
	if err != nil {
		return nil, err
	}
	gatherers := prometheus.Gatherers{own}
	if o.Metrics != nil {
		gatherers = append(gatherers, o.Metrics)
	}
	h.prom = promhttp.HandlerFor(gatherers, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		ErrorLog:          promLogger{o.Logger},
		ErrorHandling:     promhttp.ContinueOnError,
	})
	if len(o.Token) > 0 {
		h.tokenHash = sha256.Sum256(o.Token)
	}
	h.route("/v1/connections", http.MethodGet, h.listConnections)
	h.route("/v1/connections/{id}/close", http.MethodPost, h.closeConnection)
	h.route("/v1/paused", http.MethodGet, h.listPaused)
	h.route("/v1/paused/{id}/resume", http.MethodPost, h.resume)
	h.route("/v1/paused/{id}/abort", http.MethodPost, h.abort)
	h.route("/v1/pins", http.MethodGet, h.listPins)
	h.route("/v1/pins/{server}/{pin}", http.MethodDelete, h.revokePin)
	h.route("/metrics", http.MethodGet, h.prom.ServeHTTP)
	h.route("/healthz", http.MethodGet, h.healthz)
	h.route("/readyz", http.MethodGet, h.readyz)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
	})
	return h, nil
}

// route registers fn for path, answering other methods with 405 (GET
// endpoints also answer HEAD).
func (h *handler) route(path, method string, fn http.HandlerFunc) {
	h.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
			allow := method
			if method == http.MethodGet {
				allow = "GET, HEAD"
			}
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed here; use "+method)
			return
		}
		fn(w, r)
	})
}

// ServeHTTP checks the bearer token (except for the probes), bounds the
// body and dispatches.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if len(h.opts.Token) > 0 && r.URL.Path != "/healthz" && r.URL.Path != "/readyz" && !h.authorized(w, r) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes)
	h.mux.ServeHTTP(w, r)
}

// authorized checks "Authorization: Bearer TOKEN" in constant time (over
// SHA-256 digests, so the token's length does not leak either) and answers
// 401 when it is missing or wrong.
func (h *handler) authorized(w http.ResponseWriter, r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		w.Header().Set("WWW-Authenticate", `Bearer realm="wssproxy admin"`)
		writeError(w, http.StatusUnauthorized, "missing bearer token (Authorization: Bearer TOKEN)")
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	if subtle.ConstantTimeCompare(got[:], h.tokenHash[:]) != 1 {
		h.opts.Logger.Warn().Str("remote", r.RemoteAddr).Str("path", r.URL.Path).Msg("admin: wrong bearer token refused")
		w.Header().Set("WWW-Authenticate", `Bearer realm="wssproxy admin", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "wrong bearer token")
		return false
	}
	return true
}

// connectionJSON is one connection in /v1/connections.
type connectionJSON struct {
	ID              uint64    `json:"id"`
	Route           string    `json:"route"`
	Peer            string    `json:"peer"`
	Legs            string    `json:"legs"`
	Upstream        string    `json:"upstream"`
	Subprotocol     string    `json:"subprotocol"`
	State           string    `json:"state"`
	Started         time.Time `json:"started"`
	DurationSeconds float64   `json:"duration_seconds"`
	BytesUp         int64     `json:"bytes_up"`
	BytesDown       int64     `json:"bytes_down"`
	MessagesUp      int64     `json:"messages_up"`
	MessagesDown    int64     `json:"messages_down"`
	// RTTs of the last keepalive ping per leg, in milliseconds; 0 before
	// the first pong or without keepalive pings.
	ClientRTTMillis   float64 `json:"client_rtt_ms"`
	UpstreamRTTMillis float64 `json:"upstream_rtt_ms"`
}

func (h *handler) listConnections(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	out := []connectionJSON{}
	for _, s := range h.opts.Servers {
		for _, c := range s.Connections() {
			out = append(out, connectionJSON{
				ID: c.ID, Route: c.Route, Peer: c.Peer, Legs: c.Legs, Upstream: c.Upstream,
				Subprotocol: c.Subprotocol, State: c.State, Started: c.Started.UTC(),
				DurationSeconds: now.Sub(c.Started).Seconds(),
				BytesUp:         c.BytesUp, BytesDown: c.BytesDown, MessagesUp: c.MessagesUp, MessagesDown: c.MessagesDown,
				ClientRTTMillis:   millis(c.ClientRTT),
				UpstreamRTTMillis: millis(c.UpstreamRTT),
			})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"connections": out})
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// closeRequest is the optional body of POST /v1/connections/{id}/close.
type closeRequest struct {
	Code   *uint16 `json:"code"`
	Reason *string `json:"reason"`
}

func (h *handler) closeConnection(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no connection %q (ids are numbers)", r.PathValue("id")))
		return
	}
	var req closeRequest
	if !readJSON(w, r, &req) {
		return
	}
	code, reason := ws.StatusNormalClosure, "closed by the operator"
	if req.Code != nil {
		code, reason = ws.StatusCode(*req.Code), ""
	}
	if req.Reason != nil {
		reason = *req.Reason
	}
	switch {
	case !code.ValidOnWire():
		writeError(w, http.StatusBadRequest, fmt.Sprintf("close code %d cannot be sent (use 1000-1003, 1007-1014 or 3000-4999)", code))
		return
	case len(reason) > ws.MaxCloseReason:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("close reason is %d bytes, more than %d", len(reason), ws.MaxCloseReason))
		return
	}
	for _, s := range h.opts.Servers {
		err := s.CloseConnection(r.Context(), id, code, reason)
		if errors.Is(err, proxy.ErrNoConnection) {
			continue
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		h.opts.Logger.Info().Uint64("conn", id).Uint16("code", uint16(code)).Str("reason", reason).
			Str("remote", r.RemoteAddr).Msg("admin: closing connection")
		writeJSON(w, http.StatusAccepted, map[string]any{"id": id, "closing": true, "code": uint16(code), "reason": reason})
		return
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("no connection %d (closed already?)", id))
}

// pausedJSON is a local entry of GET /v1/paused.
type pausedJSON struct {
	tlsconf.PausedHandshake
	Instance string `json:"instance,omitempty"`
}

func (h *handler) listPaused(w http.ResponseWriter, r *http.Request) {
	var local []tlsconf.PausedHandshake
	if h.opts.Registry != nil {
		local = h.opts.Registry.List()
	}
	out := make([]any, 0, len(local))
	instance := ""
	if h.opts.Fleet != nil {
		instance = h.opts.Fleet.Instance()
	}
	for _, p := range local {
		out = append(out, pausedJSON{PausedHandshake: p, Instance: instance})
	}
	resp := map[string]any{}
	if h.opts.Fleet != nil {
		ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
		defer cancel()
		remote, err := h.opts.Fleet.Remote(ctx)
		if err != nil {
			// The local ones are still listed and decidable.
			resp["fleet_error"] = err.Error()
		}
		for _, p := range remote {
			out = append(out, p.JSON)
		}
	}
	resp["paused"] = out
	writeJSON(w, http.StatusOK, resp)
}

// resumeRequest is the optional body of POST /v1/paused/{id}/resume.
type resumeRequest struct {
	// Ignore, if not empty, accepts only these errors ("KIND" or
	// "KIND:SHA256"); every unaccepted error of the handshake must be
	// covered. Empty accepts the errors shown in /v1/paused.
	Ignore []string `json:"ignore"`
	// RememberAsPin trusts the leaf's public key for this server name
	// from now on (trust on first use).
	RememberAsPin bool `json:"remember_as_pin"`
}

func (h *handler) resume(w http.ResponseWriter, r *http.Request) {
	var req resumeRequest
	if !readJSON(w, r, &req) {
		return
	}
	if _, err := tlsconf.ParseExpectedErrors(req.Ignore); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	h.decide(w, r, Decision{Resume: true, Ignore: req.Ignore, RememberAsPin: req.RememberAsPin, By: decidedBy(r)})
}

func (h *handler) abort(w http.ResponseWriter, r *http.Request) {
	if !readJSON(w, r, &struct{}{}) {
		return
	}
	h.decide(w, r, Decision{By: decidedBy(r)})
}

// decide applies d to the paused handshake in the path: here if this
// instance holds it, else through the Fleet on the instance that does.
func (h *handler) decide(w http.ResponseWriter, r *http.Request, d Decision) {
	id := r.PathValue("id")
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	if _, ok := h.paused(id); ok || h.opts.Fleet == nil {
		status, body := decide(ctx, h.opts.Registry, id, d, h.opts.Logger)
		writeJSON(w, status, body)
		return
	}
	d.From = h.opts.Fleet.Instance()
	o, found, err := h.opts.Fleet.Decide(ctx, id, d)
	switch {
	case err != nil:
		h.opts.Logger.Error().Err(err).Str("paused_id", id).Msg("admin: the decision did not reach the instance holding the handshake")
		writeError(w, http.StatusBadGateway, err.Error())
	case !found:
		writeJSON(w, http.StatusNotFound, notPaused(id))
	default:
		writeRaw(w, o.Status, o.Body)
	}
}

func (h *handler) paused(id string) (tlsconf.PausedHandshake, bool) {
	if h.opts.Registry == nil {
		return tlsconf.PausedHandshake{}, false
	}
	return h.opts.Registry.Get(id)
}

// ownMetrics is a registry of the gauges the admin API reads when scraped:
// the paused handshakes and decisions of the Registry, and readiness.
func (h *handler) ownMetrics() (*prometheus.Registry, error) {
	pending := func(handshakes bool) func() float64 {
		return func() float64 {
			if h.opts.Registry == nil {
				return 0
			}
			decisions, waiting := h.opts.Registry.Pending()
			if handshakes {
				return float64(waiting)
			}
			return float64(decisions)
		}
	}
	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: proxy.MetricsPrefix + "paused_handshakes", Help: "Upstream handshakes paused now, waiting for a decision."}, pending(true)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: proxy.MetricsPrefix + "pause_decisions_pending", Help: "Operator decisions pending (GET /v1/paused entries); handshakes for the same certificate share one."}, pending(false)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: proxy.MetricsPrefix + "ready", Help: "1 while the listeners serve, 0 while draining."}, func() float64 {
			if h.opts.Ready() {
				return 1
			}
			return 0
		}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("admin: %w", err)
		}
	}
	return reg, nil
}

// promLogger logs promhttp's errors (a collector failing) at warn.
type promLogger struct{ log zerolog.Logger }

func (l promLogger) Println(v ...any) { l.log.Warn().Msg(fmt.Sprint(v...)) }

func (h *handler) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (h *handler) readyz(w http.ResponseWriter, r *http.Request) {
	if !h.opts.Ready() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready (starting or draining)"})
		return
	}
	if h.opts.Degraded != nil {
		if why := h.opts.Degraded(); why != "" {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "degraded": why})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// readJSON decodes an optional JSON body into dst: empty is fine, unknown
// fields, trailing data and bodies over the limit are answered with 400
// or 413.
func readJSON(w http.ResponseWriter, r *http.Request, dst any) bool {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", mbe.Limit))
			return false
		}
		writeError(w, http.StatusBadRequest, "reading the request body: "+err.Error())
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		writeError(w, http.StatusBadRequest, "request body: "+err.Error())
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "request body: data after the JSON value")
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "ws->wss", not "ws-\u003ewss"
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		_ = enc.Encode(map[string]string{"error": "encoding the answer: " + err.Error()})
	}
	body := buf.Bytes()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeRaw writes a JSON body received from another instance, indented
// like writeJSON's.
func writeRaw(w http.ResponseWriter, status int, body json.RawMessage) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		writeError(w, http.StatusBadGateway, "the holding instance answered with no JSON")
		return
	}
	writeJSON(w, status, v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
