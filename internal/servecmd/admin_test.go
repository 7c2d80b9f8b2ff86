package servecmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/ws"
	"github.com/wssproxy/wssproxy/ws/echo"
)

const adminToken = "test-token-0123456789abcdef"

// The admin and pause keys of the config file, each error with its line.
func TestAdminConfigErrors(t *testing.T) {
	t.Parallel()
	routes := []string{"listeners:", "  - listen: 127.0.0.1:8443", "    routes:", "      - upstream: wss://x/", "        upstream_tls:"}
	cases := []struct {
		name, yaml string
		line       int
		msg        string
	}{
		{"admin not a mapping", y("admin: 127.0.0.1:9000"), 1, "admin: want a mapping"},
		{"admin no listen", y("admin:", "  token_file: t"), 2, "admin.listen: missing"},
		{"admin bad listen", y("admin:", "  listen: localhost"), 2, `admin.listen: "localhost" is not host:port`},
		{"admin empty unix", y("admin:", "  listen: 'unix:'"), 2, "admin.listen: unix: needs a socket path"},
		{"admin unknown key", y("admin:", "  listen: 127.0.0.1:9000", "  token: x"), 3, "admin.token: unknown key (known here: listen, pause_max_pending, pause_max_waiters, token_file)"},
		{"admin overlaps a listener", y(append([]string{"admin:", "  listen: 0.0.0.0:8443"}, routes[:4]...)...), 4, "listeners[0].listen: 127.0.0.1:8443 overlaps admin.listen (line 2)"},
		{"pause value", y(append(routes, "          pause: sometimes")...), 6, `upstream_tls.pause: "sometimes" is not true or false`},
		{"pause_timeout without pause", y(append(routes, "          pause_timeout: 10s")...), 6, "upstream_tls.pause_timeout: needs pause: true"},
		{"pause with ignore all", y(append(routes, "          pause: true", "          ignore: all")...), 6, "upstream_tls.pause: ignore: all accepts every SSL error"},
		{"upstream_timeout within the pause", y(append(routes, "          pause: true", "        upstream_timeout: 30s")...), 7, "upstream_timeout: must be longer than upstream_tls.pause_timeout (30s)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseConfig([]byte(tc.yaml), "config.yaml", "")
			want := fmt.Sprintf("config.yaml:%d: ", tc.line)
			if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %v\nwant prefix %q containing %q", err, want, tc.msg)
			}
		})
	}

	// Cross-checks after parsing (flags may override the admin keys).
	cfg, err := parseConfig([]byte(y(append(routes, "          pause: true", "          pause_timeout: 1m")...)), "config.yaml", "/etc/wssproxy")
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.Listeners[0].Routes[0]; !r.Pause || r.PauseTimeout.D() != time.Minute {
		t.Fatalf("route %+v", r)
	}
	if err := cfg.CheckAdmin(); err == nil || !strings.HasPrefix(err.Error(), "config.yaml:4: listeners[0].routes[0]: pausing on SSL errors needs the admin API") {
		t.Fatalf("pause without admin: %v", err)
	}
	cfg, err = parseConfig([]byte(y("admin:", "  listen: 127.0.0.1:9000", "listeners:", "  - listen: 127.0.0.1:0", "    routes: [{upstream: 'ws://x/'}]")), "config.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.CheckAdmin(); err == nil || !strings.HasPrefix(err.Error(), "config.yaml:2: admin: the admin API on TCP (127.0.0.1:9000) needs a bearer token") {
		t.Fatalf("TCP admin without a token: %v", err)
	}
	cfg, err = parseConfig([]byte(y("admin:", "  listen: unix:run/admin.sock", "listeners:", "  - listen: 127.0.0.1:0", "    routes: [{upstream: 'ws://x/'}]")), "config.yaml", "/srv")
	if err != nil || cfg.Admin.Listen != "unix:/srv/run/admin.sock" || cfg.CheckAdmin() != nil {
		t.Fatalf("unix admin: %+v %v", cfg.Admin, err)
	}
}

func TestAdminFlagErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	open := filepath.Join(dir, "open-token")
	if err := os.WriteFile(open, []byte(adminToken), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o644)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--pause-on-ssl-errors"}, 2, "upstream flags need --upstream"},
		{[]string{"--upstream", "ws://x/", "--pause-on-ssl-errors", "--admin", "unix:" + dir + "/a.sock"}, 2, "--pause-on-ssl-errors needs a wss:// --upstream"},
		{[]string{"--upstream", "wss://x/", "--pause-on-ssl-errors", "--upstream-insecure"}, 2, "nothing would pause"},
		{[]string{"--upstream", "wss://x/", "--pause-timeout", "5s"}, 2, "--pause-timeout needs --pause-on-ssl-errors"},
		{[]string{"--upstream", "wss://x/", "--pause-on-ssl-errors"}, 2, "pausing on SSL errors needs the admin API"},
		{[]string{"--admin", "127.0.0.1:0"}, 2, "needs a bearer token: --admin-token-file"},
		{[]string{"--admin-token-file", open}, 2, "needs the admin API"},
		{[]string{"--admin", "unix:"}, 2, "needs a socket path"},
		{[]string{"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--admin-token-file", open}, 1, "accessible by group or others"},
		{[]string{"--config", "x.yaml", "--pause-on-ssl-errors"}, 2, "--config excludes --pause-on-ssl-errors"},
	} {
		var out, errb bytes.Buffer
		if code := Run(context.Background(), tc.args, &out, &errb); code != tc.code || !strings.Contains(errb.String(), tc.msg) {
			t.Errorf("%v: exit %d, %q; want %d with %q", tc.args, code, errb.String(), tc.code, tc.msg)
		}
	}
}

// adminClient talks to the admin API of a running serve.
type adminClient struct {
	t     *testing.T
	base  string
	token string
	hc    *http.Client
}

func (a *adminClient) do(method, path, body string) (int, string) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (a *adminClient) json(method, path, body string, want int, v any) {
	a.t.Helper()
	code, text := a.do(method, path, body)
	if code != want {
		a.t.Fatalf("%s %s: %d %s, want %d", method, path, code, text, want)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(text), v); err != nil {
			a.t.Fatalf("%s %s: %q: %v", method, path, text, err)
		}
	}
}

// pausedList is the admin API's answer to GET /v1/paused.
type pausedList struct {
	Paused []struct {
		ID       string `json:"id"`
		Instance string `json:"instance"`
		Waiters  int    `json:"waiters"`
		Errors   []struct {
			Kind        string `json:"kind"`
			Fingerprint string `json:"fingerprint"`
		} `json:"errors"`
	} `json:"paused"`
}

// pollPaused lists /v1/paused every 10 ms until found picks an entry's
// id, and fails the test with what (and the last list) when d passes
// first.
func (a *adminClient) pollPaused(d time.Duration, what string, found func(l pausedList) (id string, ok bool)) string {
	a.t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		var l pausedList
		a.json("GET", "/v1/paused", "", 200, &l)
		if id, ok := found(l); ok {
			return id
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("%s within %v; last listed: %+v", what, d, l)
		}
	}
}

// waitPaused waits for the one paused handshake and returns its id and
// error kinds.
func (a *adminClient) waitPaused() (id string, kinds []string) {
	a.t.Helper()
	id = a.pollPaused(10*time.Second, "no paused handshake listed", func(l pausedList) (string, bool) {
		if len(l.Paused) != 1 {
			return "", false
		}
		for _, e := range l.Paused[0].Errors {
			kinds = append(kinds, e.Kind)
		}
		return l.Paused[0].ID, true
	})
	return id, kinds
}

// startTLSEcho runs a wss echo upstream with a self-signed certificate
// nobody trusts.
func startTLSEcho(t *testing.T) string {
	h := &echo.Handler{}
	up := httptest.NewUnstartedServer(h)
	up.Config.ErrorLog = log.New(io.Discard, "", 0)
	up.StartTLS()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.CloseAll(ctx, ws.StatusGoingAway, "")
		up.Close()
	})
	return "wss" + strings.TrimPrefix(up.URL, "https") + "/"
}

// serve --pause-on-ssl-errors --admin end to end: a client's handshake
// pauses on the upstream's untrusted certificate, the admin API lists it
// with its error kinds and resumes it (the client gets through and
// echoes), a second one is aborted (the client gets 502), the connection
// and the counters show in /v1/connections and /metrics, and /readyz
// answers 503 while SIGTERM drains.
func TestServeAdminPauseResumeAbortDrain(t *testing.T) {
	t.Parallel()
	upstream := startTLSEcho(t)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "admin-token")
	if err := os.WriteFile(tokenFile, []byte(adminToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := spawnServe(ctx, "--listen", "127.0.0.1:0", "--upstream", upstream,
		"--pause-on-ssl-errors", "--pause-timeout", "20s", "--admin", "127.0.0.1:0", "--admin-token-file", tokenFile,
		"--log-format", "json", "--log-level", "warn", "--grace", "5s")
	logs := srv.logs
	proxyURL, admin := srv.banner(t, "admin API:")
	adminURL := strings.TrimSuffix(strings.Fields(admin)[0], "/")
	a := &adminClient{t: t, base: adminURL, token: adminToken, hc: &http.Client{Timeout: 10 * time.Second}}
	if code, _ := (&adminClient{t: t, base: adminURL, hc: a.hc}).do("GET", "/v1/paused", ""); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", code)
	}
	// Ready once the listeners' Serve loops run (just after the URLs print).
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		code, body := (&adminClient{t: t, base: adminURL, hc: a.hc}).do("GET", "/readyz", "")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz: %d %s", code, body)
		}
	}

	type dialed struct {
		c   *ws.Conn
		err error
	}
	dial := func() chan dialed {
		ch := make(chan dialed, 1)
		go func() {
			c, _, err := ws.Dial(ctx, proxyURL, nil)
			ch <- dialed{c, err}
		}()
		return ch
	}

	// Resumed.
	first := dial()
	id, kinds := a.waitPaused()
	if len(kinds) == 0 || kinds[0] != "self-signed" {
		t.Fatalf("paused with %v", kinds)
	}
	hint := `curl -X POST -H "Authorization: Bearer $(cat ` + tokenFile + `)" ` + adminURL + "/v1/paused/" + id + "/resume"
	if l := logs.String(); !strings.Contains(l, `"paused_id":"`+id+`"`) || !strings.Contains(l, jsonString(hint)) || strings.Contains(l, adminToken) {
		t.Fatalf("pause log lacks the resume hint %q (or shows the token):\n%s", hint, l)
	}
	a.json("POST", "/v1/paused/"+id+"/resume", "", 200, nil)
	r := <-first
	if r.err != nil {
		t.Fatalf("resumed client: %v", r.err)
	}
	c := r.c
	defer c.Abort()
	testpeer.Echo(ctx, t, c, ws.MessageText, "through the pause")

	// Aborted.
	second := dial()
	id2, _ := a.waitPaused()
	a.json("POST", "/v1/paused/"+id2+"/abort", "", 200, nil)
	var herr *ws.HandshakeError
	if r := <-second; !errors.As(r.err, &herr) || herr.Status != http.StatusBadGateway {
		t.Fatalf("aborted client: %v", r.err)
	}

	var conns struct {
		Connections []struct {
			ID         uint64 `json:"id"`
			Route      string `json:"route"`
			Legs       string `json:"legs"`
			MessagesUp int64  `json:"messages_up"`
		} `json:"connections"`
	}
	a.json("GET", "/v1/connections", "", 200, &conns)
	if len(conns.Connections) != 1 || conns.Connections[0].Route != "*" || conns.Connections[0].Legs != "ws->wss" || conns.Connections[0].MessagesUp != 1 {
		t.Fatalf("connections %+v", conns)
	}
	_, metrics := a.do("GET", "/metrics", "")
	for _, want := range []string{
		`wssproxy_connections_open{route="*"} 1`,
		`wssproxy_connections_total{route="*"} 1`,
		`wssproxy_paused_handshakes_total 2`,
		`wssproxy_upstream_failures_total{reason="pause-aborted",route="*"} 1`,
		`wssproxy_upstream_ssl_errors_total{kind="self-signed",route="*"} 1`,
		`wssproxy_handshakes_refused_total{status="502"} 1`,
		`wssproxy_ready 1`,
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", want, metrics)
		}
	}
	// The Go runtime's and the process's standard series are there too.
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "process_open_fds"} {
		if !regexp.MustCompile(`(?m)^` + name + ` [0-9.e+]+$`).MatchString(metrics) {
			t.Errorf("/metrics lacks %s:\n%s", name, metrics)
		}
	}

	// SIGTERM: the client leg gets 1001, and until it answers the drain
	// goes on and /readyz says 503.
	cancel()
	probe := &adminClient{t: t, base: adminURL, hc: a.hc}
	for deadline := time.Now().Add(4 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if code, _ := probe.do("GET", "/readyz", ""); code == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz never said 503 during the drain")
		}
	}
	if code, _ := probe.do("GET", "/healthz", ""); code != 200 {
		t.Fatalf("healthz during the drain: %d", code)
	}
	_, _, err := c.ReadMessage(context.Background())
	if code, _ := c.CloseStatus(); code != ws.StatusGoingAway {
		t.Fatalf("drain: %v %v", code, err)
	}
	srv.exitOK(t, 10*time.Second)
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(adminURL, "http://"), time.Second); err == nil {
		t.Fatal("the admin API still listens after serve returned")
	}
}

// jsonString is s as it appears inside a JSON log string.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// The config file's admin (on a unix socket, without a token) and pause
// keys.
func TestServeAdminUnixSocketFromConfig(t *testing.T) {
	t.Parallel()
	upstream := startTLSEcho(t)
	dir := t.TempDir()
	srv := spawnServeAdmin(t, dir, []string{
		// Its own trust store: the pin it remembers must not reach the
		// other tests' serve runs (they share the default state directory).
		"store: file:upstream_pins",
		"admin:",
		"  listen: unix:admin.sock",
		"listeners:",
		"  - listen: 127.0.0.1:0",
		"    routes:",
		"      - name: paused",
		"        upstream: " + upstream,
		"        upstream_tls:",
		"          pause: true",
		"          pause_timeout: 10s",
	}, "--log-level", "error")
	proxyURL, sock, a := srv.url, srv.sock, srv.admin
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v, %v", fi, err)
	}
	first := make(chan error, 1)
	go func() {
		c, _, err := ws.Dial(t.Context(), proxyURL, nil)
		if err == nil {
			c.Close(ws.StatusNormalClosure, "")
		}
		first <- err
	}()
	id, _ := a.waitPaused()
	a.json("POST", "/v1/paused/"+id+"/resume", `{"remember_as_pin":true}`, 200, nil)
	if err := <-first; err != nil {
		t.Fatalf("resumed: %v", err)
	}
	// store: file:upstream_pins is found from the config file's folder.
	if data, err := os.ReadFile(filepath.Join(dir, "upstream_pins")); err != nil || !strings.HasPrefix(string(data), "127.0.0.1 sha256//") || !strings.Contains(string(data), " by=admin ") {
		t.Fatalf("store %q %v", data, err)
	}
	srv.stop()
	srv.exitOK(t, 10*time.Second)
	if _, err := os.Stat(sock); err == nil {
		t.Fatal("the admin socket outlived serve")
	}
}
