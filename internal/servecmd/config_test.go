package servecmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/config"
	"github.com/wssproxy/wssproxy/proxy"
)

// y joins lines, so that a case's line numbers are its indexes + 1.

// y joins lines, so that a case's line numbers are its indexes + 1.
func y(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

// parseConfig parses a config file's content as serve --config does,
// without opening the files it names.
func parseConfig(data []byte, name, dir string) (config.Config, error) {
	return config.Parse(data, name, dir)
}

func TestServeConfigFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	name := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(name, []byte(y("log: {level: debug}", "listeners:", "  - listen: 127.0.0.1:0", "    routes: [{upstream: 'ws://x/'}]")), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--config", name, "--listen", "127.0.0.1:1"}, "--config excludes --listen"},
		{[]string{"--config", name, "--upstream", "ws://x/", "--max-frame-size", "1"}, "--config excludes --max-frame-size, --upstream"},
		{[]string{"--config", filepath.Join(dir, "none.yaml")}, "--config: open "},
		{[]string{"--config", name, "--log-level", "loud"}, "--log-level"},
	} {
		var out, errb bytes.Buffer
		if code := Run(context.Background(), tc.args, &out, &errb); code != 2 || !strings.Contains(errb.String(), tc.msg) {
			t.Errorf("%v: exit %d, %q; want 2 with %q", tc.args, code, errb.String(), tc.msg)
		}
	}
	cfg, file, set, err := parseServeFlags([]string{"--config", name, "--log-format", "console", "--grace", "3s"}, &bytes.Buffer{})
	if err != nil || file != name || !set["log-format"] || !set["grace"] || set["log-level"] || cfg.Grace.D() != 3*time.Second {
		t.Fatalf("%v %q %v %+v", err, file, set, cfg)
	}
	// An invalid file is a usage error with the line.
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(y("listeners:", "  - listen: 127.0.0.1:0", "    routes:", "      - upstream: ws://x/", "        max_message_size: 12XB")), 0o600)
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"--config", bad}, &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), bad+`:5: listeners[0].routes[0].max_message_size: "12XB" is not a size`) {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}

// The relay's timeouts are on by default, from flags and from a file,
// and a configured 0 turns each off (proxy.Route takes a negative value
// for that; its zero value means the default).
func TestRelayTimeoutDefaults(t *testing.T) {
	t.Parallel()
	var b builder
	routeOf := func(args ...string) proxy.Route {
		t.Helper()
		cfg, _, _, err := parseServeFlags(append([]string{"--upstream", "ws://127.0.0.1:1/"}, args...), &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		r, err := b.route(&cfg.Listeners[0].Routes[0])
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := routeOf(); r.PingInterval != 30*time.Second || r.FrameTimeout != 30*time.Second || r.WriteTimeout != 30*time.Second || r.IdleTimeout != 0 {
		t.Errorf("defaults: ping %s frame %s write %s idle %s", r.PingInterval, r.FrameTimeout, r.WriteTimeout, r.IdleTimeout)
	}
	if r := routeOf("--ping-interval", "0", "--frame-timeout", "0", "--write-timeout", "0"); r.PingInterval >= 0 || r.FrameTimeout >= 0 || r.WriteTimeout >= 0 {
		t.Errorf("0 does not turn them off: ping %s frame %s write %s", r.PingInterval, r.FrameTimeout, r.WriteTimeout)
	}
	if r := routeOf("--pong-timeout", "5s", "--frame-timeout", "2s"); r.PongTimeout != 5*time.Second || r.FrameTimeout != 2*time.Second {
		t.Errorf("flags not applied: pong %s frame %s", r.PongTimeout, r.FrameTimeout)
	}
	if r := routeOf(); r.MaxControlRate != 100 || r.MaxTinyFrameRate != 50000 {
		t.Errorf("flood limits: control %d tiny %d", r.MaxControlRate, r.MaxTinyFrameRate)
	}
	if r := routeOf("--max-control-rate", "0", "--max-tiny-frame-rate", "5"); r.MaxControlRate >= 0 || r.MaxTinyFrameRate != 5 {
		t.Errorf("flood limit flags: control %d tiny %d", r.MaxControlRate, r.MaxTinyFrameRate)
	}
	fc, err := parseConfig([]byte(y("listeners:", "  - listen: 127.0.0.1:0", "    routes:", "      - upstream: ws://127.0.0.1:1/", "        ping_interval: 0s", "        write_timeout: 5s")), "c.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.route(&fc.Listeners[0].Routes[0])
	if err != nil {
		t.Fatal(err)
	}
	if r.PingInterval >= 0 || r.WriteTimeout != 5*time.Second || r.FrameTimeout != 30*time.Second {
		t.Errorf("from a file: ping %s write %s frame %s", r.PingInterval, r.WriteTimeout, r.FrameTimeout)
	}
}
