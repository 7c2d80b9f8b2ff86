package servecmd

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/clientcmd"
	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/proxy"
	"github.com/wssproxy/wssproxy/ws"
	"github.com/wssproxy/wssproxy/ws/echo"
)

// TestTryItLineWorks runs serve with a config file whose routes accept
// only some hosts, paths and origins, then runs each printed "try it"
// command (split by bash, as a user's shell would) against it: each must
// get its message echoed. The printed line named the listener's address
// as host and got 404 from a host-bound route.
func TestTryItLineWorks(t *testing.T) {
	bash := testpeer.LookPath(t, "bash", "apt-get install bash")
	up := echo.Start(listenLocal(t), nil, nil)
	defer up.Shutdown(context.Background(), ws.StatusGoingAway, "")
	backend := "ws://" + up.Addr().String() + "/"
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", dir)
	srv := spawnServeConfig(t, dir, []string{
		"log: {level: warn}",
		"grace: 5s",
		"listeners:",
		"  - name: secure",
		"    listen: 127.0.0.1:0",
		"    tls:",
		"      dev_cert: {dir: devca}",
		"    routes:",
		"      - host: example.com",
		"        path: /chat",
		"        upstream: " + backend,
		"      - host: other.example",
		"        upstream: " + backend,
		"  - name: plain",
		"    listen: 127.0.0.1:0",
		"    routes:",
		"      - path: /feed",
		"        upstream: " + backend,
		"        allowed_origins: [https://app.example.com]",
	})
	var tries []string
	for len(tries) < 2 {
		if cmd, ok := strings.CutPrefix(srv.line(t, 15*time.Second), "try it:"); ok {
			tries = append(tries, strings.TrimSpace(cmd))
		}
	}
	for _, try := range tries {
		// The words a shell makes of the line.
		out, err := exec.Command(bash, "-c", "printf '%s\\n' "+try).Output()
		if err != nil {
			t.Fatalf("bash split %q: %v", try, err)
		}
		argv := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		if len(argv) < 3 || argv[0] != "wssproxy" || argv[1] != "client" {
			t.Fatalf("try line %q is not a wssproxy client command", try)
		}
		cctx, ccancel := context.WithTimeout(t.Context(), 15*time.Second)
		var cout, cerr bytes.Buffer
		code := clientcmd.Run(cctx, argv[2:], strings.NewReader("hello\n"), &cout, &cerr)
		ccancel()
		if code != 0 || !strings.Contains(cout.String(), "hello") {
			t.Errorf("%s: exit %d, output %q, errors %q", try, code, cout.String(), cerr.String())
		}
	}
	srv.stop()
	srv.exitOK(t, 10*time.Second)
}

func listenLocal(t *testing.T) net.Listener { return testpeer.Listen(t) }

// tryCommand's choices: a route for any host first, a Host header and
// an origin when the route wants them, loopback for a listener on every
// address, and no command when a client certificate is required.
func TestTryCommand(t *testing.T) {
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8443}
	cases := []struct {
		name    string
		addr    net.Addr
		routes  []proxy.Route
		tls     *tls.Config
		ca      string
		want    string
		wantWhy string
	}{
		{"catch-all", addr, []proxy.Route{{}}, nil, "", "wssproxy client ws://127.0.0.1:8443/", ""},
		{"any host preferred", addr, []proxy.Route{{Host: "a.example", Path: "/x"}, {Path: "/y"}}, &tls.Config{}, "/ca dir/ca.pem",
			"wssproxy client wss://127.0.0.1:8443/y --ca '/ca dir/ca.pem'", ""},
		{"host and origin", addr, []proxy.Route{{Host: "a.example", Path: "/x", AllowedOrigins: []string{"https://app.example"}}}, nil, "",
			"wssproxy client ws://127.0.0.1:8443/x --header 'Host: a.example' --origin https://app.example", ""},
		{"every address", &net.TCPAddr{IP: net.IPv6unspecified, Port: 443}, []proxy.Route{{}}, nil, "", "wssproxy client 'ws://[::1]:443/'", ""},
		{"every IPv4 address", &net.TCPAddr{IP: net.IPv4zero, Port: 80}, []proxy.Route{{}}, nil, "", "wssproxy client ws://127.0.0.1:80/", ""},
		{"client certificate", addr, []proxy.Route{{}}, &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert}, "", "", "client certificate"},
		{"no route", addr, nil, nil, "", "", "no route"},
	}
	for _, tc := range cases {
		scheme := "ws"
		if tc.tls != nil {
			scheme = "wss"
		}
		got, why := tryCommand(scheme, tc.addr, tc.routes, tc.tls, tc.ca)
		if got != tc.want || !strings.Contains(why, tc.wantWhy) || (tc.want == "") != (why != "") {
			t.Errorf("%s: got %q (%q), want %q (%q)", tc.name, got, why, tc.want, tc.wantWhy)
		}
	}
}
