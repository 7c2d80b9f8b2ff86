package proxy

import (
	"crypto/tls"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/wssproxy/wssproxy/certs"
	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/internal/testpeer/devpki"
	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/ws"
)

func serverTLS(t *testing.T, pki *certs.DevCAResult) *tls.Config {
	t.Helper()
	cfg, err := tlsconf.ServerConfig(&tlsconf.ServerOptions{CertFile: pki.CertFile, KeyFile: pki.KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// All four leg combinations, with wss verified by CA, by pin, and refused
// on a pin mismatch with the error list in the 502.
func TestLegCombinations(t *testing.T) {
	t.Parallel()
	pki := devpki.New(t)
	plain := startUpstream(t, nil, echoHandle)
	secure := startUpstreamTLS(t, serverTLS(t, pki))

	caClient, err := tlsconf.NewClient(&tlsconf.ClientOptions{CAFile: pki.CACertFile})
	if err != nil {
		t.Fatal(err)
	}
	pin, err := tlsconf.ParsePin(pki.SPKIPin)
	if err != nil {
		t.Fatal(err)
	}
	pinClient, err := tlsconf.NewClient(&tlsconf.ClientOptions{Policy: tlsconf.Policy{Pins: []tlsconf.Pin{pin}, PinOnly: true}})
	if err != nil {
		t.Fatal(err)
	}
	other := devpki.New(t)
	wrongPin, _ := tlsconf.ParsePin(other.SPKIPin)
	wrongClient, err := tlsconf.NewClient(&tlsconf.ClientOptions{Policy: tlsconf.Policy{Pins: []tlsconf.Pin{wrongPin}, PinOnly: true}})
	if err != nil {
		t.Fatal(err)
	}
	routes := []Route{
		{Path: "/ws", Upstream: plain.url()},
		{Path: "/wss-ca", Upstream: secure, UpstreamTLS: caClient},
		{Path: "/wss-pin", Upstream: secure, UpstreamTLS: pinClient},
		{Path: "/wss-wrong-pin", Upstream: secure, UpstreamTLS: wrongClient},
		{Path: "/wss-system-roots", Upstream: secure},
	}
	wsBase, _ := startProxy(t, Options{Routes: routes})
	wssBase, _ := startProxyTLS(t, Options{Routes: routes, TLS: serverTLS(t, pki)})
	clientTLS := &tls.Config{RootCAs: testpeer.CertPool(t, pki.CACertFile)}

	for _, base := range []string{wsBase, wssBase} {
		for _, path := range []string{"/ws", "/wss-ca", "/wss-pin"} {
			c := dial(t, base+path, &ws.DialOptions{TLSConfig: clientTLS})
			if err := c.WriteMessage(ctxT(t), ws.MessageText, []byte("via "+path)); err != nil {
				t.Fatal(err)
			}
			if _, msg, err := c.ReadMessage(ctxT(t)); err != nil || string(msg) != "via "+path {
				t.Fatalf("%s%s: %q %v", base, path, msg, err)
			}
			c.Close(ws.StatusNormalClosure, "")
		}
		for path, want := range map[string]string{"/wss-wrong-pin": "upstream certificate refused: pin-mismatch", "/wss-system-roots": "upstream certificate refused: x509: certificate signed by unknown authority"} {
			_, _, err := ws.Dial(ctxT(t), base+path, &ws.DialOptions{TLSConfig: clientTLS})
			var herr *ws.HandshakeError
			if !errors.As(err, &herr) || herr.Status != http.StatusBadGateway || !strings.Contains(herr.Reason, want) {
				t.Fatalf("%s%s: got %v, want 502 mentioning %q", base, path, err, want)
			}
		}
	}
}

// startUpstreamTLS runs an echo backend that terminates TLS itself.
// startPausing starts an upstream whose dev-CA certificate nobody
// trusts, and returns its URL and a client whose handshakes to it pause
// in registry, each sent on paused (buffered n).
func startPausing(t *testing.T, n int) (upstream string, client *tlsconf.Client, registry *tlsconf.Registry, paused chan tlsconf.PausedHandshake) {
	t.Helper()
	upstream = startUpstreamTLS(t, serverTLS(t, devpki.New(t)))
	registry = tlsconf.NewRegistry()
	paused = make(chan tlsconf.PausedHandshake, n)
	client, err := tlsconf.NewClient(&tlsconf.ClientOptions{Policy: tlsconf.Policy{
		Pause:    tlsconf.PauseOnSSLErrors,
		Registry: registry,
		OnPause:  func(p tlsconf.PausedHandshake) { paused <- p },
	}})
	if err != nil {
		t.Fatal(err)
	}
	return upstream, client, registry, paused
}

func startUpstreamTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	return startUpstreamTLSHandler(t, cfg, echoHandle)
}

// startProxyTLS runs a Server with a wss client leg.
func startProxyTLS(t *testing.T, opts Options) (string, *Server) {
	base, s := startProxy(t, opts)
	return "wss://" + strings.TrimPrefix(base, "ws://"), s
}

// Pause on SSL errors through the proxy: the client's handshake waits
// while the upstream's untrusted certificate is paused; resuming it through
// the library API lets the relay proceed, aborting gives the client 502.
func TestPauseThenResumeUpstream(t *testing.T) {
	t.Parallel()
	secure, client, registry, paused := startPausing(t, 2)
	base, _ := startProxy(t, Options{Routes: []Route{{Upstream: secure, UpstreamTLS: client}}})

	for _, resume := range []bool{true, false} {
		type result struct {
			c   *ws.Conn
			err error
		}
		done := make(chan result, 1)
		go func() {
			c, _, err := ws.Dial(ctxT(t), base, nil)
			done <- result{c, err}
		}()
		p := <-paused
		if len(p.Errors) == 0 || p.Errors[0].Kind != tlsconf.UnknownAuthority {
			t.Fatalf("paused with %v", p.Errors)
		}
		if resume {
			if err := registry.Resume(p.ID, nil, false); err != nil {
				t.Fatal(err)
			}
			r := <-done
			if r.err != nil {
				t.Fatalf("after resume: %v", r.err)
			}
			r.c.WriteMessage(ctxT(t), ws.MessageText, []byte("resumed"))
			if _, msg, err := r.c.ReadMessage(ctxT(t)); err != nil || string(msg) != "resumed" {
				t.Fatalf("%q %v", msg, err)
			}
			r.c.Close(ws.StatusNormalClosure, "")
		} else {
			if err := registry.Abort(p.ID); err != nil {
				t.Fatal(err)
			}
			r := <-done
			var herr *ws.HandshakeError
			if !errors.As(r.err, &herr) || herr.Status != http.StatusBadGateway {
				t.Fatalf("after abort: %v", r.err)
			}
		}
	}
}
