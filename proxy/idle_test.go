package proxy

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer/devpki"
	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/ws"
)

// startUpstreamTLSHandler runs a backend that terminates TLS itself and
// hands each connection to handle.
func startUpstreamTLSHandler(t *testing.T, cfg *tls.Config, handle func(*ws.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := serveUpstream(t, tls.NewListener(ln, cfg), nil, handle)
	return "wss://" + up.ln.Addr().String()
}

// A wss upstream that answers with a message in many tiny fragments, each
// its own TLS record: the proxy's upstream leg, idle between frames, must
// find every record, also those crypto/tls read together with an earlier
// one.
func TestFragmentedRecordsFromTLSUpstream(t *testing.T) {
	t.Parallel()
	pki := devpki.New(t)
	const text = "a€😀é✓z"
	up := startUpstreamTLSHandler(t, serverTLS(t, pki), func(c *ws.Conn) {
		ctx := context.Background()
		for {
			if _, _, err := c.ReadMessage(ctx); err != nil {
				return
			}
			for i := 0; i < len(text); i++ {
				op := ws.OpContinuation
				if i == 0 {
					op = ws.OpText
				}
				if err := c.WriteFrame(ctx, ws.Header{OpCode: op, Fin: i == len(text)-1}, []byte{text[i]}); err != nil {
					return
				}
				if i%3 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}
	})
	client, err := tlsconf.NewClient(&tlsconf.ClientOptions{CAFile: pki.CACertFile})
	if err != nil {
		t.Fatal(err)
	}
	base, _ := startProxy(t, Options{Routes: []Route{{Upstream: up, UpstreamTLS: client}}})
	c := dial(t, base, nil)
	for i := range 50 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := c.WriteMessage(ctx, ws.MessageText, []byte("go")); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.ReadMessage(ctx)
		cancel()
		if err != nil || string(got) != text {
			t.Fatalf("round %d: got %q, %v; want %q", i, got, err, text)
		}
	}
}
