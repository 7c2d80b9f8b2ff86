package servecmd

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/clientcmd"
	"github.com/wssproxy/wssproxy/internal/clientcmd/clienttest"
	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/internal/testpeer/devpki"
	"github.com/wssproxy/wssproxy/ws"
)

// startNamedBackend runs a WebSocket server that first sends
// "NAME PATH" (the path it was asked for), then echoes.
func startNamedBackend(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveBackend(t, ln, func(r *http.Request) string { return name + " " + r.URL.Path })
	return "ws://" + ln.Addr().String() + "/"
}

// talk opens url, checks the backend's greeting and one echo, and returns
// the connection, still open.
func talk(t *testing.T, url string, opts *ws.DialOptions, greeting string) *ws.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := ws.Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	if _, msg, err := c.ReadMessage(ctx); err != nil || string(msg) != greeting {
		t.Fatalf("%s: greeting %q %v, want %q", url, msg, err, greeting)
	}
	testpeer.Echo(ctx, t, c, ws.MessageText, "hello")
	return c
}

// End to end with --config: a ws listener with two path routes to two
// backends, a wss listener (dev certificate in a temp dir) with a
// host-based route; then a drain as on SIGTERM closes every connection of
// both listeners with 1001 and serve exits 0.
func TestServeConfigEndToEnd(t *testing.T) {
	a, b := startNamedBackend(t, "A"), startNamedBackend(t, "B")
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", dir) // nothing may land in the real state dir
	srv := spawnServeConfig(t, dir, []string{
		"log: {level: warn}",
		"grace: 5s",
		"listeners:",
		"  - name: plain",
		"    listen: 127.0.0.1:0",
		"    routes:",
		"      - path: /a",
		"        strip_path: true",
		"        upstream: " + a,
		"      - path: /b",
		"        upstream: " + b + "base",
		"        max_message_size: 1KiB",
		"  - name: secure",
		"    listen: 127.0.0.1:0",
		"    tls:",
		"      dev_cert: {dir: devca}",
		"    max_connections: 10",
		"    handshake_timeout: 5s",
		"    routes:",
		"      - host: localhost",
		"        upstream: " + b,
		"        ping_interval: 1m",
	})

	// Three "serving" lines, then the CA of the wss listener.
	urls := map[string]string{} // upstream (or host) -> URL
	var ca string
	for ca == "" {
		l := srv.line(t, 15*time.Second)
		f := strings.Fields(l)
		switch {
		case strings.HasPrefix(l, "wssproxy: serving ") && strings.Contains(l, "(host localhost)"):
			urls["localhost"] = f[2]
		case strings.HasPrefix(l, "wssproxy: serving "):
			urls[f[len(f)-1]] = f[2]
		case strings.HasPrefix(l, "trust this CA:"):
			ca = f[len(f)-1]
		}
	}
	if len(urls) != 3 || ca != filepath.Join(dir, "devca", "ca.pem") {
		t.Fatalf("urls %v, ca %q", urls, ca)
	}
	plainA, plainB, secure := urls[a], urls[b+"base"], urls["localhost"]
	if !strings.HasPrefix(plainA, "ws://127.0.0.1:") || !strings.HasSuffix(plainA, "/a") || !strings.HasSuffix(plainB, "/b") || !strings.HasPrefix(secure, "wss://127.0.0.1:") {
		t.Fatalf("urls %v", urls)
	}

	// Path routes: /a is stripped, /b is appended to the upstream's path.
	cA := talk(t, plainA+"/room?x=1", nil, "A /room")
	defer cA.Abort()
	cB := talk(t, plainB+"/room", nil, "B /base/b/room")
	defer cB.Abort()
	// An unrouted path gets 404.
	if _, resp, err := ws.Dial(t.Context(), strings.TrimSuffix(plainA, "/a")+"/c", nil); !errors.Is(err, ws.ErrBadHandshake) || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unrouted path: %v %v", resp, err)
	}
	// The route's limit applies: a message over 1 KiB closes with 1009.
	cLimit := talk(t, plainB, nil, "B /base/b")
	cLimit.WriteMessage(t.Context(), ws.MessageText, bytes.Repeat([]byte("x"), 2048))
	cLimit.ReadMessage(t.Context())
	if code, _ := cLimit.CloseStatus(); code != ws.StatusMessageTooBig {
		t.Errorf("over the route's max_message_size: close %v, want 1009", code)
	}
	cLimit.Abort()

	// Host route on the wss listener, with the dev CA; another host gets 404.
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	port := secure[strings.LastIndex(secure, ":")+1:]
	cS := talk(t, "wss://localhost:"+port, &ws.DialOptions{TLSConfig: tlsWithRoots(t, pem)}, "B /")
	defer cS.Abort()
	other := &ws.DialOptions{TLSConfig: tlsWithRoots(t, pem), Header: http.Header{"Host": {"other.example"}}}
	other.TLSConfig.ServerName = "localhost"
	if _, resp, err := ws.Dial(t.Context(), secure, other); resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("other host: %v %v", resp, err)
	}

	// SIGTERM (t.Context()): both listeners drain together with 1001.
	srv.stop()
	for _, c := range []*ws.Conn{cA, cB, cS} {
		c.ReadMessage(context.Background())
		if code, _ := c.CloseStatus(); code != ws.StatusGoingAway {
			t.Errorf("drain: close %v, want 1001", code)
		}
	}
	srv.exitOK(t, 10*time.Second)
}

// A listener that cannot listen stops serve before anything is served,
// and the error names the listener's line.
func TestServeConfigListenFails(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	name := writeConfig(t, dir, "c.yaml",
		"listeners:",
		"  - listen: 127.0.0.1:0",
		"    routes: [{upstream: 'ws://127.0.0.1:1/'}]",
		"  - listen: "+busy.Addr().String(),
		"    routes: [{upstream: 'ws://127.0.0.1:1/'}]",
	)
	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"--config", name, "--log-level", "error"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), name+":4: listeners[1]: listening on") || out.Len() != 0 {
		t.Fatalf("exit %d, out %q, err %q", code, out.String(), errb.String())
	}
}

// Client-certificate verification per listener: required refuses a
// client without a certificate and accepts one from the CA in ca_file;
// optional lets a client without a certificate in.
func TestServeConfigClientCerts(t *testing.T) {
	pki, urls, srv := serveClientCerts(t, "required", "optional")
	pem, _ := os.ReadFile(pki.CACertFile)
	cert := devpki.Certificate(t, pki)
	noCert := &ws.DialOptions{TLSConfig: tlsWithRoots(t, pem), HandshakeTimeout: 5 * time.Second}
	withCert := &ws.DialOptions{TLSConfig: tlsWithRoots(t, pem)}
	withCert.TLSConfig.Certificates = []tls.Certificate{cert}

	if c, _, err := ws.Dial(t.Context(), urls["/required"], noCert); err == nil {
		c.Abort()
		t.Fatal("required: a client without a certificate got in")
	}
	talk(t, urls["/required"], withCert, "A /required").Abort()
	talk(t, urls["/optional"], noCert, "A /optional").Abort()
	srv.stop()
	srv.exitOK(t, 10*time.Second)
}

// A listener with client_certs: required is reachable from our own
// client with --cert/--key; without them the client fails with the TLS
// status and a hint.
func TestClientCertificateRequired(t *testing.T) {
	pki, urls, srv := serveClientCerts(t, "required")
	url := urls["/required"]
	url = strings.Replace(url, "127.0.0.1", "localhost", 1)

	code, out, errOut := clienttest.Run(t, strings.NewReader("hello\n"), url, "--ca", pki.CACertFile, "--cert", pki.CertFile, "--key", pki.KeyFile)
	if code != clientcmd.ExitOK || out != "A /required\nhello\n" {
		t.Fatalf("with a certificate: exit %d, %q, %q", code, out, errOut)
	}
	code, out, errOut = clienttest.Run(t, strings.NewReader("hello\n"), url, "--ca", pki.CACertFile)
	if code != clientcmd.ExitTLS || !strings.Contains(errOut, "--cert/--key") || out != "" {
		t.Fatalf("without a certificate: exit %d, %q, %q", code, out, errOut)
	}
	srv.stop()
	srv.exitOK(t, 10*time.Second)
}
