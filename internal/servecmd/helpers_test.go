package servecmd

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/certs"
	"github.com/wssproxy/wssproxy/internal/cli"
	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/ws"
)

// runCerts runs "wssproxy certs ARGS..." in-process (the tests here
// check it through the same upstream proxies as serve) and returns exit
// code, stdout, stderr.
func runCerts(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return testpeer.RunCommand(t, func(ctx context.Context, stdout, stderr io.Writer) int {
		return cli.RunCerts(ctx, args, stdout, stderr)
	})
}

// writeConfig writes a YAML file of lines (see y) as name in dir and
// returns its path.
func writeConfig(t *testing.T, dir, name string, lines ...string) string {
	t.Helper()
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, []byte(y(lines...)), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// serveProc is "wssproxy serve" run in-process by a test.
type serveProc struct {
	lines testpeer.Lines   // its standard output, a line at a time
	logs  *testpeer.Buffer // its standard error
	done  chan int         // its exit code
	stop  func()           // ends it as SIGTERM does (spawnServeConfig)
}

// spawnServe runs "wssproxy serve ARGS..." until ctx ends.
func spawnServe(ctx context.Context, args ...string) *serveProc {
	p := &serveProc{lines: testpeer.NewLines(50), logs: &testpeer.Buffer{}, done: make(chan int, 1)}
	go func() { p.done <- Run(ctx, args, p.lines, p.logs) }()
	return p
}

// serveBackend serves WebSocket connections on ln until the test ends,
// then closes them with 1001. Each request is first passed to hello; a
// connection is sent hello's answer, when not empty, as a text message,
// then its messages are echoed.
func serveBackend(t *testing.T, ln net.Listener, hello func(r *http.Request) string) {
	ctx, cancel := context.WithCancel(context.Background())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		greeting := hello(r)
		c, err := ws.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.Abort()
		stop := context.AfterFunc(ctx, func() { c.Close(ws.StatusGoingAway, "") })
		defer stop()
		if greeting != "" && c.WriteMessage(ctx, ws.MessageText, []byte(greeting)) != nil {
			return
		}
		for {
			typ, msg, err := c.ReadMessage(ctx)
			if err != nil || c.WriteMessage(ctx, typ, msg) != nil {
				return
			}
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { cancel(); srv.Close() })
}

// spawnServeConfig writes config (see y) as wssproxy.yaml in dir and runs
// "wssproxy serve --config FILE ARGS..." on it until its stop is called
// or the test ends.
func spawnServeConfig(t *testing.T, dir string, config []string, args ...string) *serveProc {
	t.Helper()
	file := writeConfig(t, dir, "wssproxy.yaml", config...)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p := spawnServe(ctx, append([]string{"--config", file}, args...)...)
	p.stop = cancel
	return p
}

// adminServe is serve run by spawnServeAdmin.
type adminServe struct {
	*serveProc
	url   string       // the first listener's URL
	sock  string       // the admin API's unix socket
	admin *adminClient // a client of it
}

// spawnServeAdmin runs serve as spawnServeConfig does, on a config whose
// admin API listens on unix:admin.sock (beside the file), and waits for
// its first listener's URL and the socket.
func spawnServeAdmin(t *testing.T, dir string, config []string, args ...string) *adminServe {
	t.Helper()
	s := &adminServe{serveProc: spawnServeConfig(t, dir, config, args...), sock: filepath.Join(dir, "admin.sock")}
	s.url = s.serveProc.url(t, 10*time.Second)
	awaitSocket(t, s.sock)
	s.admin = unixAdmin(t, s.sock)
	return s
}

// line returns serve's next line of output; serve exiting first, or
// printing nothing for d, fails t.
func (p *serveProc) line(t *testing.T, d time.Duration) string {
	t.Helper()
	select {
	case l := <-p.lines.C:
		return l
	case code := <-p.done:
		t.Fatalf("serve exited %d: %s", code, p.logs.String())
	case <-time.After(d):
		t.Fatalf("serve printed nothing more for %v; stderr: %s", d, p.logs.String())
	}
	return ""
}

// url returns the URL of serve's first "wssproxy: serving" line, failing
// t when serve prints no line for d.
func (p *serveProc) url(t *testing.T, d time.Duration) string {
	t.Helper()
	for {
		if u, ok := servingURL(p.line(t, d)); ok {
			return u
		}
	}
}

// banner reads serve's output until it has printed its first URL and a
// line starting with prefix, and returns the URL and the rest of that
// line, trimmed; serve exiting first, or printing nothing for 10 s, fails
// t.
func (p *serveProc) banner(t *testing.T, prefix string) (url, rest string) {
	t.Helper()
	found := false
	for url == "" || !found {
		l := p.line(t, 10*time.Second)
		if u, ok := servingURL(l); ok && url == "" {
			url = u
		}
		if r, ok := strings.CutPrefix(l, prefix); ok && !found {
			rest, found = strings.TrimSpace(r), true
		}
	}
	return url, rest
}

// awaitSocket waits up to 5 s for serve's admin socket at path and
// returns its file information.
func awaitSocket(t *testing.T, path string) os.FileInfo {
	t.Helper()
	var fi os.FileInfo
	testpeer.WaitFor(t, 5*time.Second, "the admin socket "+path, func() bool {
		var err error
		fi, err = os.Stat(path)
		return err == nil
	})
	return fi
}

// servingURL is the URL of a "wssproxy: serving URL …" banner line.
func servingURL(l string) (string, bool) {
	if !strings.HasPrefix(l, "wssproxy: serving ") {
		return "", false
	}
	return strings.Fields(l)[2], true
}

// serveClientCerts runs serve with one dev-CA listener per client_certs
// mode (required, optional), each routing /MODE to a backend named A, and
// returns the dev CA, the listeners' URLs by path, and serve.
func serveClientCerts(t *testing.T, modes ...string) (*certs.DevCAResult, map[string]string, *serveProc) {
	t.Helper()
	backend := startNamedBackend(t, "A")
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", dir)
	pki, err := certs.DevCA(&certs.DevCAOptions{Dir: filepath.Join(dir, "devca")})
	if err != nil {
		t.Fatal(err)
	}
	config := []string{"log: {level: error}", "listeners:"}
	for _, m := range modes {
		config = append(config,
			"  - listen: 127.0.0.1:0",
			"    tls:",
			"      dev_cert: {dir: devca}",
			"      client_certs: {mode: "+m+", ca_file: devca/ca.pem}",
			"    routes: [{path: /"+m+", upstream: '"+backend+"'}]")
	}
	srv := spawnServeConfig(t, dir, config)
	urls := map[string]string{}
	for len(urls) < len(modes) {
		if u, ok := servingURL(srv.line(t, 15*time.Second)); ok {
			urls[u[strings.LastIndex(u, "/"):]] = u
		}
	}
	return pki, urls, srv
}

// tlsWithRoots returns a client TLS configuration trusting the CA
// certificates in pem.
func tlsWithRoots(t *testing.T, pem []byte) *tls.Config {
	t.Helper()
	return &tls.Config{RootCAs: testpeer.PEMPool(t, "CA file", pem)}
}

// exitOK waits up to d for serve to exit and fails t unless it exited 0.
func (p *serveProc) exitOK(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case code := <-p.done:
		if code != 0 {
			t.Fatalf("serve exited %d: %s", code, p.logs.String())
		}
	case <-time.After(d):
		t.Fatalf("serve did not exit within %v", d)
	}
}

// unixAdmin is a client of serve's admin API on the unix socket at sock
// (no token).
func unixAdmin(t *testing.T, sock string) *adminClient {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	t.Cleanup(hc.CloseIdleConnections)
	return &adminClient{t: t, base: "http://localhost", hc: hc}
}
