package servecmd

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// serveOutput runs serve with args, stdout and stderr into one stream as
// on a terminal, until its "try it" line, then stops it, and returns
// every line.
func serveOutput(t *testing.T, args ...string) []string {
	t.Helper()
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := testpeer.NewLines(200)
	done := make(chan int, 1)
	go func() { done <- Run(ctx, args, out, out) }()
	var lines []string
	stopped := false
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l := <-out.C:
			lines = append(lines, l)
			if strings.HasPrefix(l, "try it:") && !stopped {
				// Let the lines logged after the banner come, then stop.
				time.AfterFunc(200*time.Millisecond, cancel)
				stopped = true
			}
		case c := <-done:
			if c != 0 {
				t.Fatalf("serve exited %d: %q", c, lines)
			}
			for {
				select {
				case l := <-out.C:
					lines = append(lines, l)
				default:
					return lines
				}
			}
		case <-timeout:
			t.Fatalf("serve printed %q", lines)
		}
	}
}

// The startup banner (stdout) comes out whole: no log line (stderr)
// between its lines when both go to one terminal; and durations in log
// lines are in seconds, named *_seconds.
func TestBannerWholeAndLogSeconds(t *testing.T) {
	lines := serveOutput(t, "--listen", "127.0.0.1:0", "--dev-cert", "--log-format", "json", "--grace", "1500ms")
	first, last := -1, -1
	for i, l := range lines {
		for _, p := range []string{"wssproxy: serving ", "certificate pin:", "trust this CA:", "try it:"} {
			if strings.HasPrefix(l, p) {
				if first < 0 {
					first = i
				}
				last = i
			}
		}
	}
	if first < 0 || last-first != 3 {
		t.Errorf("banner lines %d..%d, want 4 consecutive lines:\n%s", first, last, strings.Join(lines, "\n"))
	}
	var sawServing, sawGrace bool
	for _, l := range lines {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["message"] == "serving" {
			sawServing = true
			if m["route"] != "*" { // the flags' route is unnamed: its effective name
				t.Errorf("serving line %q: route %v, want \"*\"", l, m["route"])
			}
		}
		if strings.HasPrefix(m["message"].(string), "shutting down") {
			sawGrace = true
			if g, ok := m["grace_seconds"].(float64); !ok || g != 1.5 {
				t.Errorf("shutdown line %q: want grace_seconds 1.5", l)
			}
		}
		for k := range m {
			if k == "grace" || k == "duration" || k == "handshake_timeout" || k == "retry_in" {
				t.Errorf("log line %q: field %q has no unit in its name", l, k)
			}
		}
	}
	if !sawServing || !sawGrace {
		t.Errorf("no serving or shutdown log line in %q", lines)
	}
}
