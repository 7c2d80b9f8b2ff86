package servecmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/ws"
)

// The pending-decision limits' flags and keys, and their errors.
func TestPauseLimitConfig(t *testing.T) {
	t.Parallel()
	routes := []string{"listeners:", "  - listen: 127.0.0.1:8443", "    routes:", "      - upstream: wss://x/", "        upstream_tls:"}
	for _, tc := range []struct {
		name, yaml string
		line       int
		msg        string
	}{
		{"route key without pause", y(append(routes, "          pause_max_pending: 2")...), 6, "upstream_tls.pause_max_pending: needs pause: true"},
		{"route key not positive", y(append(routes, "          pause: true", "          pause_max_pending: 0")...), 7, "upstream_tls.pause_max_pending: must be positive"},
		{"admin key not a number", y("admin:", "  listen: unix:/a.sock", "  pause_max_pending: many"), 3, `admin.pause_max_pending: "many" is not a whole number`},
	} {
		_, err := parseConfig([]byte(tc.yaml), "config.yaml", "")
		want := fmt.Sprintf("config.yaml:%d: ", tc.line)
		if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %v\nwant prefix %q containing %q", tc.name, err, want, tc.msg)
		}
	}
	cfg, err := parseConfig([]byte(y(append([]string{"admin:", "  listen: unix:/a.sock", "  pause_max_pending: 7", "  pause_max_waiters: 9"},
		append(routes, "          pause: true", "          pause_max_pending: 3")...)...)), "config.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Admin.PauseMaxPending != 7 || cfg.Admin.PauseMaxWaiters != 9 || cfg.Listeners[0].Routes[0].PauseMaxPending != 3 {
		t.Fatalf("admin %+v, route %+v", cfg.Admin, cfg.Listeners[0].Routes[0])
	}

	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--upstream", "wss://x/", "--pause-max-pending-per-route", "2"}, "need --pause-on-ssl-errors"},
		{[]string{"--upstream", "wss://x/", "--pause-on-ssl-errors", "--pause-max-pending", "0"}, "must be positive"},
		{[]string{"--upstream", "wss://x/", "--pause-on-ssl-errors", "--pause-max-waiters", "-1"}, "must be positive"},
		{[]string{"--upstream", "wss://x/", "--pause-max-waiters", "2"}, "need --pause-on-ssl-errors"},
		{[]string{"--config", "x.yaml", "--pause-max-pending-per-route", "2"}, "--config excludes --pause-max-pending-per-route"},
	} {
		var out, errb bytes.Buffer
		if code := Run(context.Background(), tc.args, &out, &errb); code != 2 || !strings.Contains(errb.String(), tc.msg) {
			t.Errorf("%v: exit %d, %q; want 2 with %q", tc.args, code, errb.String(), tc.msg)
		}
	}
	c, _, _, err := parseServeFlags([]string{"--upstream", "wss://x/", "--pause-on-ssl-errors"}, io.Discard)
	if err != nil || c.Admin.PauseMaxPending != 16 || c.Admin.PauseMaxWaiters != 64 || c.Listeners[0].Routes[0].PauseMaxPending != 4 {
		t.Fatalf("defaults: %+v %+v %v", c.Admin, c.Listeners[0].Routes, err)
	}
	var help bytes.Buffer
	parseServeFlags([]string{"--help"}, &help)
	for _, want := range []string{"-pause-max-pending int", "-pause-max-pending-per-route int", "-pause-max-waiters int", "(default 16)", "(default 4)", "(default 64)"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

// serve with pausing routes, through the binary's code: clients meeting
// the same certificate share one decision (listed once, with its
// waiters); beyond --pause-max-pending or --pause-max-waiters (overriding
// the file) a client gets 503 with the reason, counted and logged; a
// client hanging up leaves the decision at once.
func TestServePauseLimits(t *testing.T) {
	t.Parallel()
	upstream := startTLSEcho(t)
	// Two routes to one upstream verifying different names: two distinct
	// decisions.
	srv := spawnServeAdmin(t, t.TempDir(), []string{
		"admin:",
		"  listen: unix:admin.sock",
		"  pause_max_pending: 8",
		"listeners:",
		"  - listen: 127.0.0.1:0",
		"    routes:",
		"      - name: a",
		"        path: /a",
		"        upstream: " + upstream,
		"        upstream_tls: {pause: true, verify_name: a.example, pause_max_pending: 2}",
		"      - name: b",
		"        path: /b",
		"        upstream: " + upstream,
		"        upstream_tls: {pause: true, verify_name: b.example}",
	}, "--pause-max-pending", "1", "--pause-max-waiters", "2", "--log-format", "json", "--log-level", "warn")
	logs, a := srv.logs, srv.admin
	u, err := url.Parse(srv.url)
	if err != nil {
		t.Fatal(err)
	}
	proxyHost := u.Host

	// Two raw clients of route a: one decision, two waiters.
	raw := func() net.Conn {
		nc, err := net.Dial("tcp", proxyHost)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		io.WriteString(nc, "GET /a HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
		return nc
	}
	waiters := func(want int) string {
		t.Helper()
		return a.pollPaused(5*time.Second, fmt.Sprintf("no entry with %d waiters", want), func(l pausedList) (string, bool) {
			if len(l.Paused) > 1 {
				t.Fatalf("%d entries listed, want 1", len(l.Paused))
			}
			if len(l.Paused) == 1 && l.Paused[0].Waiters == want {
				return l.Paused[0].ID, true
			}
			return "", false
		})
	}
	c1, c2 := raw(), raw()
	id := waiters(2)

	// Route b would open a second decision: beyond --pause-max-pending 1.
	_, _, err = ws.Dial(t.Context(), "ws://"+proxyHost+"/b", nil)
	var herr *ws.HandshakeError
	if !errors.As(err, &herr) || herr.Status != http.StatusServiceUnavailable || herr.Reason != "upstream certificate awaiting operator decision: too many pending" {
		t.Fatalf("route b: %v, want 503 with the reason", err)
	}
	if l := logs.String(); !strings.Contains(l, "too many pending: answered 503") || !strings.Contains(l, `"route":"b"`) {
		t.Fatalf("no log line for the refusal:\n%s", l)
	}
	// A third client of route a would be the decision's third waiter.
	_, _, err = ws.Dial(t.Context(), "ws://"+proxyHost+"/a", nil)
	if !errors.As(err, &herr) || herr.Status != http.StatusServiceUnavailable {
		t.Fatalf("third waiter: %v, want 503", err)
	}
	_, metrics := a.do("GET", "/metrics", "")
	for _, want := range []string{
		`wssproxy_pause_refused_total{route="a"} 1`,
		`wssproxy_pause_refused_total{route="b"} 1`,
		`wssproxy_handshakes_refused_total{status="503"} 2`,
		`wssproxy_pause_decisions_pending 1`,
		`wssproxy_paused_handshakes 2`,
		`wssproxy_paused_handshakes_total 1`,
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", want, metrics)
		}
	}

	// A client hanging up leaves at once (the pause timeout is 30 s).
	c1.Close()
	if got := waiters(1); got != id {
		t.Fatalf("entry %s replaced by %s", id, got)
	}
	a.json("POST", "/v1/paused/"+id+"/abort", "", 200, nil)
	_ = c2.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 12)
	if _, err := io.ReadFull(c2, buf); err != nil || string(buf) != "HTTP/1.1 502" {
		t.Fatalf("aborted client read %q %v, want a 502", buf, err)
	}
	srv.stop()
	srv.exitOK(t, 10*time.Second)
}
