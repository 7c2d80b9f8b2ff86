package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/proxy"
	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/ws"
	"github.com/wssproxy/wssproxy/ws/echo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const token = "0123456789abcdef0123456789abcdef"

// env is a proxy Server with two routes, /plain to a ws echo upstream and
// /paused to a wss echo upstream whose self-signed certificate nobody
// trusts (its handshakes pause in reg), and the admin handler over them.
type env struct {
	srv     *proxy.Server
	reg     *tlsconf.Registry
	metrics *proxy.Metrics
	h       http.Handler
	base    string // ws://proxy
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, tlsconf.NewRegistry())
}

// newEnvWith is newEnv with the given pause registry.
func newEnvWith(t *testing.T, reg *tlsconf.Registry) *env {
	t.Helper()
	plainEcho, tlsEcho := &echo.Handler{}, &echo.Handler{}
	plain := httptest.NewServer(plainEcho)
	secure := httptest.NewUnstartedServer(tlsEcho)
	secure.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes the tests abort
	secure.StartTLS()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = plainEcho.CloseAll(ctx, ws.StatusGoingAway, "")
		_ = tlsEcho.CloseAll(ctx, ws.StatusGoingAway, "")
		plain.Close()
		secure.Close()
	})
	e := &env{reg: reg, metrics: proxy.NewMetrics()}
	client, err := tlsconf.NewClient(&tlsconf.ClientOptions{Policy: tlsconf.Policy{
		Pause: tlsconf.PauseOnSSLErrors, Registry: e.reg, PauseTimeout: 20 * time.Second,
		OnPause: func(tlsconf.PausedHandshake) { e.metrics.CountPause() },
	}})
	if err != nil {
		t.Fatal(err)
	}
	e.srv, err = proxy.New(&proxy.Options{Metrics: e.metrics, Routes: []proxy.Route{
		{Name: "plain", Path: "/plain", Upstream: "ws" + strings.TrimPrefix(plain.URL, "http")},
		{Name: "paused", Path: "/paused", Upstream: "wss" + strings.TrimPrefix(secure.URL, "https"), UpstreamTLS: client},
	}})
	if err != nil {
		t.Fatal(err)
	}
	e.base = "ws://" + testpeer.RunServer(t, 5*time.Second, e.srv.Serve, func(ctx context.Context) error {
		return e.srv.Shutdown(ctx, ws.StatusGoingAway, "test over")
	})
	e.h, err = New(&Options{Servers: []*proxy.Server{e.srv}, Registry: e.reg, Token: []byte(token)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the server to serve", e.srv.Ready)
	return e
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testpeer.WaitFor(t, 10*time.Second, what, cond)
}

// do sends a request to the handler; auth is the Authorization header
// ("" for none).
func do(h http.Handler, method, path, auth, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func (e *env) do(method, path, body string) *httptest.ResponseRecorder {
	return do(e.h, method, path, "Bearer "+token, body)
}

// decode parses a JSON answer, failing the test unless the status is want.
func decode[T any](t *testing.T, w *httptest.ResponseRecorder, want int) T {
	t.Helper()
	var v T
	if w.Code != want {
		t.Fatalf("status %d, want %d: %s", w.Code, want, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("answer %q: %v", w.Body.String(), err)
	}
	return v
}

type errorAnswer struct {
	Error string `json:"error"`
}

func TestAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, auth := range []string{"", "Bearer", "Bearer wrong", "Basic " + token, "Bearer " + token + "x"} {
		w := do(e.h, "GET", "/v1/connections", auth, "")
		a := decode[errorAnswer](t, w, http.StatusUnauthorized)
		if a.Error == "" || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer ") {
			t.Errorf("auth %q: %v %q", auth, w.Header(), a.Error)
		}
	}
	for _, path := range []string{"/v1/connections", "/v1/paused", "/metrics", "/nowhere"} {
		if w := do(e.h, "GET", path, "", ""); w.Code != http.StatusUnauthorized {
			t.Errorf("%s without a token: %d", path, w.Code)
		}
	}
	if w := do(e.h, "GET", "/v1/connections", "bearer  "+token, ""); w.Code != http.StatusOK {
		t.Errorf("right token: %d %s", w.Code, w.Body.String())
	}
	// The probes need no token.
	for _, path := range []string{"/healthz", "/readyz"} {
		if w := do(e.h, "GET", path, "", ""); w.Code != http.StatusOK {
			t.Errorf("%s: %d", path, w.Code)
		}
	}
	// Without a token configured (unix socket), everything is open.
	open, err := New(&Options{Servers: []*proxy.Server{e.srv}})
	if err != nil {
		t.Fatal(err)
	}
	if w := do(open, "GET", "/v1/connections", "", ""); w.Code != http.StatusOK {
		t.Errorf("no token configured: %d", w.Code)
	}
}

func TestMethodsNotFoundAndBadRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		method, path, body string
		status             int
		allow              string
	}{
		{"POST", "/v1/connections", "", 405, "GET, HEAD"},
		{"DELETE", "/metrics", "", 405, "GET, HEAD"},
		{"GET", "/v1/connections/1/close", "", 405, "POST"},
		{"GET", "/v1/paused/x/resume", "", 405, "POST"},
		{"PUT", "/v1/paused/x/abort", "", 405, "POST"},
		{"POST", "/healthz", "", 405, "GET, HEAD"},
		{"GET", "/nowhere", "", 404, ""},
		{"GET", "/v1/connections/1", "", 404, ""},
		{"POST", "/v1/connections/999/close", "", 404, ""},
		{"POST", "/v1/connections/abc/close", "", 404, ""},
		{"POST", "/v1/paused/nope/resume", "", 404, ""},
		{"POST", "/v1/paused/nope/abort", "", 404, ""},
		{"POST", "/v1/connections/1/close", `{"code":1005}`, 400, ""},
		{"POST", "/v1/connections/1/close", `{"code":1000,"reason":"` + strings.Repeat("x", 124) + `"}`, 400, ""},
		{"POST", "/v1/connections/1/close", `{"cod":1000}`, 400, ""},
		{"POST", "/v1/connections/1/close", `{"code":1000} {}`, 400, ""},
		{"POST", "/v1/connections/1/close", `not json`, 400, ""},
		{"POST", "/v1/connections/1/close", `{"reason":"` + strings.Repeat("x", 70<<10) + `"}`, 413, ""},
		{"POST", "/v1/paused/nope/resume", `{"ignore":["pin-mismatch"]}`, 400, ""},
		{"POST", "/v1/paused/nope/resume", `{"ignore":["no-such-kind"]}`, 400, ""},
	} {
		w := e.do(tc.method, tc.path, tc.body)
		a := decode[errorAnswer](t, w, tc.status)
		if a.Error == "" || w.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s: Allow %q, error %q", tc.method, tc.path, w.Header().Get("Allow"), a.Error)
		}
	}
	if w := e.do("HEAD", "/metrics", ""); w.Code != 200 {
		t.Errorf("HEAD /metrics: %d", w.Code)
	}
}

type connectionsAnswer struct {
	Connections []struct {
		ID           uint64    `json:"id"`
		Route        string    `json:"route"`
		Peer         string    `json:"peer"`
		Legs         string    `json:"legs"`
		Upstream     string    `json:"upstream"`
		State        string    `json:"state"`
		Started      time.Time `json:"started"`
		BytesUp      int64     `json:"bytes_up"`
		BytesDown    int64     `json:"bytes_down"`
		MessagesUp   int64     `json:"messages_up"`
		MessagesDown int64     `json:"messages_down"`
	} `json:"connections"`
}

func TestListAndCloseConnection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if got := decode[connectionsAnswer](t, e.do("GET", "/v1/connections", ""), 200); len(got.Connections) != 0 {
		t.Fatalf("connections before any: %+v", got)
	}
	c, _, err := ws.Dial(ctx, e.base+"/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort()
	testpeer.Echo(ctx, t, c, ws.MessageText, "hi")
	if w := e.do("GET", "/v1/connections", ""); !strings.Contains(w.Body.String(), `"legs": "ws->ws"`) {
		t.Errorf("HTML-escaped or indented differently: %s", w.Body.String())
	}
	var got connectionsAnswer
	waitFor(t, "the counters", func() bool {
		got = decode[connectionsAnswer](t, e.do("GET", "/v1/connections", ""), 200)
		return len(got.Connections) == 1 && got.Connections[0].MessagesDown == 1
	})
	cj := got.Connections[0]
	if cj.Route != "plain" || cj.Legs != "ws->ws" || cj.State != "open" || cj.BytesUp != 2 || cj.BytesDown != 2 ||
		cj.MessagesUp != 1 || !strings.HasPrefix(cj.Peer, "127.0.0.1:") || !strings.HasPrefix(cj.Upstream, "ws://127.0.0.1:") ||
		time.Since(cj.Started) > time.Minute {
		t.Fatalf("connection %+v", cj)
	}
	type closeAnswer struct {
		ID      uint64 `json:"id"`
		Closing bool   `json:"closing"`
		Code    int    `json:"code"`
	}
	path := fmt.Sprintf("/v1/connections/%d/close", cj.ID)
	if a := decode[closeAnswer](t, e.do("POST", path, `{"code":4000,"reason":"bye"}`), http.StatusAccepted); a.ID != cj.ID || !a.Closing || a.Code != 4000 {
		t.Fatalf("close answer %+v", a)
	}
	_, _, err = c.ReadMessage(ctx)
	if code, reason := c.CloseStatus(); code != 4000 || reason != "bye" {
		t.Fatalf("client saw %v %q (%v)", code, reason, err)
	}
	waitFor(t, "the connection gone", func() bool {
		return len(decode[connectionsAnswer](t, e.do("GET", "/v1/connections", ""), 200).Connections) == 0
	})
	decode[errorAnswer](t, e.do("POST", path, ""), http.StatusNotFound)
}

type pausedAnswer struct {
	Paused []struct {
		ID         string `json:"id"`
		Peer       string `json:"peer"`
		ServerName string `json:"server_name"`
		Chain      []struct {
			Subject     string `json:"subject"`
			Fingerprint string `json:"fingerprint"`
			SPKIPin     string `json:"spki_pin"`
		} `json:"chain"`
		Errors []struct {
			Kind        string `json:"kind"`
			Fingerprint string `json:"fingerprint"`
		} `json:"errors"`
	} `json:"paused"`
}

// dialResult is the outcome of a client dial through the proxy.
type dialResult struct {
	c   *ws.Conn
	err error
}

func (e *env) dialPaused(ctx context.Context) chan dialResult {
	done := make(chan dialResult, 1)
	go func() {
		c, _, err := ws.Dial(ctx, e.base+"/paused", nil)
		done <- dialResult{c, err}
	}()
	return done
}

func (e *env) waitPaused(t *testing.T) (id, fingerprint, pin string) {
	t.Helper()
	var got pausedAnswer
	waitFor(t, "a paused handshake", func() bool {
		got = decode[pausedAnswer](t, e.do("GET", "/v1/paused", ""), 200)
		return len(got.Paused) == 1
	})
	p := got.Paused[0]
	if p.ID == "" || !strings.HasPrefix(p.Peer, "127.0.0.1:") || p.ServerName != "127.0.0.1" || len(p.Chain) == 0 ||
		len(p.Chain[0].Fingerprint) != 64 || !strings.HasPrefix(p.Chain[0].SPKIPin, "sha256//") ||
		len(p.Errors) == 0 || p.Errors[0].Kind != "self-signed" {
		t.Fatalf("paused %+v", p)
	}
	return p.ID, p.Chain[0].Fingerprint, p.Chain[0].SPKIPin
}

// A paused upstream handshake is listed, aborted (the client gets 502),
// resumed with an ignore list that covers its errors and remembered as a
// pin (the client gets through), after which the same certificate passes
// without a pause.
func TestPausedAbortResumeRemember(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	done := e.dialPaused(ctx)
	id, _, _ := e.waitPaused(t)
	type abortAnswer struct {
		ID      string `json:"id"`
		Aborted bool   `json:"aborted"`
	}
	if a := decode[abortAnswer](t, e.do("POST", "/v1/paused/"+id+"/abort", ""), 200); a.ID != id || !a.Aborted {
		t.Fatalf("abort answer %+v", a)
	}
	var herr *ws.HandshakeError
	if r := <-done; !errors.As(r.err, &herr) || herr.Status != http.StatusBadGateway || !strings.Contains(herr.Reason, "self-signed") {
		t.Fatalf("aborted dial: %v", r.err)
	}
	decode[errorAnswer](t, e.do("POST", "/v1/paused/"+id+"/abort", ""), http.StatusNotFound)

	done = e.dialPaused(ctx)
	id, fp, pin := e.waitPaused(t)
	// A list that does not cover the errors is refused; the handshake
	// stays paused.
	type refusal struct {
		Error      string `json:"error"`
		Unaccepted []struct {
			Kind string `json:"kind"`
		} `json:"unaccepted"`
	}
	refused := decode[refusal](t, e.do("POST", "/v1/paused/"+id+"/resume", `{"ignore":["hostname-mismatch","self-signed:`+strings.Repeat("ab", 32)+`"]}`), http.StatusUnprocessableEntity)
	if len(refused.Unaccepted) == 0 || refused.Unaccepted[0].Kind != "self-signed" {
		t.Fatalf("refused %+v", refused)
	}
	type resumeAnswer struct {
		ID            string `json:"id"`
		Resumed       bool   `json:"resumed"`
		RememberedPin string `json:"remembered_pin"`
	}
	a := decode[resumeAnswer](t, e.do("POST", "/v1/paused/"+id+"/resume", `{"ignore":["self-signed:`+fp+`"],"remember_as_pin":true}`), 200)
	if a.ID != id || !a.Resumed || a.RememberedPin != pin {
		t.Fatalf("resume answer %+v (pin %s)", a, pin)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("resumed dial: %v", r.err)
	}
	defer r.c.Abort()
	if err := r.c.WriteMessage(ctx, ws.MessageText, []byte("through")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := r.c.ReadMessage(ctx); err != nil || string(msg) != "through" {
		t.Fatalf("echo %q %v", msg, err)
	}
	r.c.Close(ws.StatusNormalClosure, "")

	// Remembered: no pause this time.
	c, _, err := ws.Dial(ctx, e.base+"/paused", nil)
	if err != nil {
		t.Fatalf("after remember_as_pin: %v", err)
	}
	c.Close(ws.StatusNormalClosure, "")
	w := e.do("GET", "/metrics", "")
	if n, ok := value(parseExposition(t, w.Body.String()), "wssproxy_paused_handshakes_total", nil); !ok || n != 2 {
		t.Fatalf("paused_handshakes_total %v (present %v), want 2", n, ok)
	}
}

// sample is one parsed exposition line.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var (
	helpRE   = regexp.MustCompile(`^# HELP (wssproxy_[a-zA-Z0-9_]+) \S.*$`)
	typeRE   = regexp.MustCompile(`^# TYPE (wssproxy_[a-zA-Z0-9_]+) (counter|gauge|histogram)$`)
	sampleRE = regexp.MustCompile(`^(wssproxy_[a-zA-Z0-9_]+)(\{.*\})? (\S+)$`)
	labelRE  = regexp.MustCompile(`^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)`)
)

// parseExposition checks every line of a Prometheus text exposition and
// returns the samples: HELP and TYPE once per family and before its
// samples, samples of declared families only (with the _bucket, _sum and
// _count suffixes for histograms), well-formed labels, float values,
// cumulative buckets ending in +Inf equal to _count.
func parseExposition(t *testing.T, text string) []sample {
	t.Helper()
	types := map[string]string{}
	helped := map[string]bool{}
	var out []sample
	sc := bufio.NewScanner(strings.NewReader(text))
	lastBucket := map[string]float64{}
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# HELP "):
			m := helpRE.FindStringSubmatch(line)
			if m == nil || helped[m[1]] {
				t.Fatalf("line %d: bad or repeated HELP: %q", n, line)
			}
			helped[m[1]] = true
			continue
		case strings.HasPrefix(line, "# TYPE "):
			m := typeRE.FindStringSubmatch(line)
			if m == nil || types[m[1]] != "" {
				t.Fatalf("line %d: bad or repeated TYPE: %q", n, line)
			}
			types[m[1]] = m[2]
			continue
		case strings.HasPrefix(line, "#") || line == "":
			t.Fatalf("line %d: unexpected %q", n, line)
		}
		m := sampleRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("line %d: not a sample: %q", n, line)
		}
		s := sample{name: m[1], labels: map[string]string{}}
		family := s.name
		if types[family] == "" {
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if f := strings.TrimSuffix(s.name, suf); f != s.name && types[f] == "histogram" {
					family = f
				}
			}
		}
		if types[family] == "" || !helped[family] {
			t.Fatalf("line %d: sample of an undeclared family: %q", n, line)
		}
		if ls := m[2]; ls != "" {
			rest := ls[1 : len(ls)-1]
			for rest != "" {
				lm := labelRE.FindStringSubmatch(rest)
				if lm == nil {
					t.Fatalf("line %d: bad labels %q", n, ls)
				}
				s.labels[lm[1]] = strings.NewReplacer(`\\`, `\`, `\"`, `"`, `\n`, "\n").Replace(lm[2])
				rest = rest[len(lm[0]):]
			}
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("line %d: value %q: %v", n, m[3], err)
		}
		s.value = v
		if types[family] == "counter" && (v < 0 || math.IsNaN(v)) {
			t.Fatalf("line %d: counter value %v", n, v)
		}
		if strings.HasSuffix(s.name, "_bucket") {
			le := s.labels["le"]
			if le == "" {
				t.Fatalf("line %d: bucket without le", n)
			}
			key := family + seriesKey(s.labels, "le")
			if v < lastBucket[key] {
				t.Fatalf("line %d: buckets not cumulative", n)
			}
			lastBucket[key] = v
		}
		if strings.HasSuffix(s.name, "_count") && types[family] == "histogram" {
			if inf := lastBucket[family+seriesKey(s.labels, "")]; inf != v {
				t.Fatalf("line %d: _count %v != +Inf bucket %v", n, v, inf)
			}
		}
		out = append(out, s)
	}
	return out
}

func seriesKey(labels map[string]string, skip string) string {
	var parts []string
	for k, v := range labels {
		if k != skip {
			parts = append(parts, k+"="+v)
		}
	}
	slices.Sort(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

// value returns the sample of name whose labels include want.
func value(samples []sample, name string, want map[string]string) (float64, bool) {
	for _, s := range samples {
		if s.name != name {
			continue
		}
		match := true
		for k, v := range want {
			match = match && s.labels[k] == v
		}
		if match {
			return s.value, true
		}
	}
	return 0, false
}

func TestMetricsExposition(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	scrape := func() []sample {
		w := e.do("GET", "/metrics", "")
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain; version=0.0.4") {
			t.Fatalf("/metrics: %d %q", w.Code, w.Header().Get("Content-Type"))
		}
		return parseExposition(t, w.Body.String())
	}
	before := scrape()
	if v, ok := value(before, "wssproxy_paused_handshakes_total", nil); !ok || v != 0 {
		t.Fatalf("paused_handshakes_total %v %v", v, ok)
	}

	c, _, err := ws.Dial(ctx, e.base+"/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort()
	c.WriteMessage(ctx, ws.MessageBinary, []byte("12345"))
	c.ReadMessage(ctx)
	if _, _, err := ws.Dial(ctx, e.base+"/nowhere", nil); err == nil {
		t.Fatal("no 404")
	}
	done := e.dialPaused(ctx)
	id, _, _ := e.waitPaused(t)
	after := scrape()
	for _, want := range []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{"wssproxy_connections_open", map[string]string{"route": "plain"}, 1},
		{"wssproxy_connections_total", map[string]string{"route": "plain"}, 1},
		{"wssproxy_messages_total", map[string]string{"route": "plain", "direction": "up"}, 1},
		{"wssproxy_bytes_total", map[string]string{"route": "plain", "direction": "down"}, 5},
		{"wssproxy_handshakes_refused_total", map[string]string{"status": "404"}, 1},
		{"wssproxy_paused_handshakes_total", nil, 1},
		{"wssproxy_paused_handshakes", nil, 1},
		{"wssproxy_ready", nil, 1},
	} {
		if v, ok := value(after, want.name, want.labels); !ok || v != want.value {
			t.Errorf("%s%v = %v (present %v), want %v", want.name, want.labels, v, ok, want.value)
		}
	}
	e.do("POST", "/v1/paused/"+id+"/abort", "")
	<-done
	c.Close(ws.StatusNormalClosure, "done")
	waitFor(t, "the closes counted", func() bool {
		s := scrape()
		v, _ := value(s, "wssproxy_closes_total", map[string]string{"route": "plain", "leg": "client", "code": "1000"})
		f, _ := value(s, "wssproxy_upstream_failures_total", map[string]string{"route": "paused", "reason": "pause-aborted"})
		k, _ := value(s, "wssproxy_upstream_ssl_errors_total", map[string]string{"route": "paused", "kind": "self-signed"})
		return v == 1 && f == 1 && k == 1
	})
}

// /metrics negotiates OpenMetrics (counters keep their _total name,
// the exposition ends with # EOF) and serves the caller's Gatherer
// beside the admin API's own gauges.
func TestMetricsOpenMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	extra := prometheus.NewCounter(prometheus.CounterOpts{Name: "caller_things_total", Help: "The caller's own."})
	reg.MustRegister(extra)
	extra.Add(3)
	h, err := New(&Options{Metrics: reg, Token: []byte(token)})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0; charset=utf-8")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if ct := w.Header().Get("Content-Type"); w.Code != 200 || !strings.HasPrefix(ct, "application/openmetrics-text; version=1.0.0") {
		t.Fatalf("/metrics with OpenMetrics accepted: %d %q", w.Code, ct)
	}
	body := w.Body.String()
	for _, want := range []string{"# TYPE caller_things counter\n", "caller_things_total 3.0\n", "# TYPE wssproxy_ready gauge\n", "wssproxy_ready 0.0\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("OpenMetrics exposition lacks %q:\n%s", want, body)
		}
	}
	if !strings.HasSuffix(body, "# EOF\n") {
		t.Errorf("OpenMetrics exposition does not end with # EOF:\n%s", body)
	}
	// Without the Accept header: the text format.
	w = do(h, "GET", "/metrics", "Bearer "+token, "")
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") || strings.Contains(w.Body.String(), "# EOF") {
		t.Fatalf("/metrics without Accept: %q\n%s", ct, w.Body.String())
	}
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	srv, err := proxy.New(&proxy.Options{Routes: []proxy.Route{{Upstream: "ws://127.0.0.1:1"}}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(&Options{Servers: []*proxy.Server{srv}, Token: []byte(token)})
	if err != nil {
		t.Fatal(err)
	}
	if w := do(h, "GET", "/readyz", "", ""); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("before Serve: %d", w.Code)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), ln) }()
	waitFor(t, "ready", func() bool { return do(h, "GET", "/readyz", "", "").Code == http.StatusOK })
	srv.Shutdown(context.Background(), ws.StatusGoingAway, "")
	<-done
	if w := do(h, "GET", "/readyz", "", ""); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("after Shutdown: %d", w.Code)
	}
	if w := do(h, "GET", "/healthz", "", ""); w.Code != http.StatusOK {
		t.Fatalf("healthz: %d", w.Code)
	}

	other, err := proxy.New(&proxy.Options{Routes: []proxy.Route{{Upstream: "ws://127.0.0.1:1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(&Options{Servers: []*proxy.Server{srv, other}}); err == nil {
		t.Fatal("two metric sets accepted")
	}
	if _, err := New(&Options{Servers: []*proxy.Server{srv, other}, Metrics: prometheus.NewRegistry()}); err != nil {
		t.Fatal(err)
	}
}

func TestLoadToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if tok, err := LoadToken(write("ok", "\n "+token+"\n", 0o600)); err != nil || string(tok) != token {
		t.Fatalf("ok: %q %v", tok, err)
	}
	if _, err := LoadToken(write("readable", token, 0o640)); !errors.Is(err, ErrInsecureTokenFile) {
		t.Fatalf("group-readable: %v", err)
	}
	if _, err := LoadToken(write("world", token, 0o604)); !errors.Is(err, ErrInsecureTokenFile) {
		t.Fatalf("world-readable: %v", err)
	}
	for name, content := range map[string]string{"short": "abc", "space": "0123456789 abcdef0123", "empty": "", "ctl": token + "\x01"} {
		if _, err := LoadToken(write(name, content, 0o600)); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := LoadToken(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file accepted")
	}
	if _, err := LoadToken(dir); err == nil {
		t.Error("a folder accepted")
	}
}
