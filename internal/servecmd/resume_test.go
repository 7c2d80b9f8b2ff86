package servecmd

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/certs"
	"github.com/wssproxy/wssproxy/internal/clientcmd/clienttest"
	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/tlsconf"
)

// resumingUpstream is a wss echo server (a dev CA's certificate) that
// records, per WebSocket request, its path and whether its TLS
// handshake resumed a session.
type resumingUpstream struct {
	url, caFile string
	seen        testpeer.Feed[string] // "PATH new" or "PATH resumed"
}

func startResumingUpstream(t *testing.T) *resumingUpstream {
	t.Helper()
	pki, err := certs.DevCA(&certs.DevCAOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := tlsconf.ServerConfig(&tlsconf.ServerOptions{CertFile: pki.CertFile, KeyFile: pki.KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &resumingUpstream{url: "wss://" + ln.Addr().String(), caFile: pki.CACertFile}
	serveBackend(t, tls.NewListener(ln, cfg), func(r *http.Request) string {
		how := "new"
		if r.TLS.DidResume {
			how = "resumed"
		}
		u.seen.Add(r.URL.Path + " " + how)
		return ""
	})
	return u
}

// echoThrough sends a line through serve at url and checks the echo.
func echoThrough(t *testing.T, url string) {
	t.Helper()
	code, out, errs := clienttest.Run(t, strings.NewReader("resume?\n"), url)
	if code != 0 || out != "resume?\n" {
		t.Fatalf("client %s: exit %d, %q, %q", url, code, out, errs)
	}
}

// serve resumes its TLS sessions with a wss upstream by default, as the
// upstream sees (DidResume on its side), and
// --upstream-session-resumption=false makes every upstream handshake a
// full one.
func TestServeUpstreamSessionResumptionFlag(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	up := startResumingUpstream(t)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"/ new", "/ resumed", "/ resumed"}},
		{[]string{"--upstream-session-resumption=false"}, []string{"/ new", "/ new", "/ new"}},
	} {
		addr := startServe(t, append([]string{"--upstream", up.url, "--upstream-ca", up.caFile}, tc.args...)...)
		for range 3 {
			echoThrough(t, "ws://"+addr+"/")
		}
		if got := up.seen.Take(); !slices.Equal(got, tc.want) {
			t.Errorf("%v: upstream saw %v, want %v", tc.args, got, tc.want)
		}
	}
}

// From a configuration file: each route resumes its own sessions (two
// routes to the same upstream name never share one), and
// session_resumption: false turns it off for its route only.
func TestServeUpstreamSessionResumptionConfig(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", dir)
	up := startResumingUpstream(t)
	tlsKeys := "{ca_file: '" + up.caFile + "'"
	p := spawnServeConfig(t, dir, []string{
		"log: {level: error}",
		"listeners:",
		"  - listen: 127.0.0.1:0",
		"    routes:",
		"      - {path: /a, upstream: '" + up.url + "', upstream_tls: " + tlsKeys + "}}",
		"      - {path: /b, upstream: '" + up.url + "', upstream_tls: " + tlsKeys + ", session_resumption: true}}",
		"      - {path: /off, upstream: '" + up.url + "', upstream_tls: " + tlsKeys + ", session_resumption: false}}"})
	u, err := url.Parse(p.url(t, 15*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	base := "ws://" + u.Host
	t.Cleanup(func() {
		p.stop()
		p.exitOK(t, 10*time.Second)
	})
	for _, path := range []string{"/a", "/a", "/b", "/b", "/off", "/off", "/a"} {
		echoThrough(t, base+path)
	}
	want := []string{"/a new", "/a resumed", "/b new", "/b resumed", "/off new", "/off new", "/a resumed"}
	if got := up.seen.Take(); !slices.Equal(got, want) {
		t.Fatalf("upstream saw %v, want %v", got, want)
	}
}

// The flag's bad uses are refused before anything listens.
func TestServeUpstreamSessionResumptionFlagErrors(t *testing.T) {
	keyFile := t.TempDir() + "/k"
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--upstream-session-resumption=false"}, "--upstream-session-resumption needs a wss:// --upstream"},
		{[]string{"--upstream", "ws://127.0.0.1:1/", "--upstream-session-resumption=false"}, "--upstream-session-resumption needs a wss:// --upstream"},
		{[]string{"--upstream", "wss://127.0.0.1:1/", "--upstream-psk-identity", "d", "--upstream-psk-key-file", keyFile, "--upstream-session-resumption=false"}, "a PSK upstream has no certificate"},
		{[]string{"--config", "c.yaml", "--upstream-session-resumption=false"}, "--config excludes --upstream-session-resumption"},
		{[]string{"--upstream", "wss://127.0.0.1:1/", "--upstream-session-resumption=maybe"}, `"maybe" is not true or false`},
	} {
		var out, errb bytes.Buffer
		if code := Run(context.Background(), tc.args, &out, &errb); code != 2 || !strings.Contains(errb.String(), tc.msg) {
			t.Errorf("%v: exit %d, %q; want 2 with %q", tc.args, code, errb.String(), tc.msg)
		}
	}
}
