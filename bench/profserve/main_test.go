package main

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wssproxy/wssproxy/certs"
	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/internal/testpeer/devpki"
	"github.com/wssproxy/wssproxy/ws"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// profserve relays like serve and answers pprof on loopback, then stops
// with its context.
func TestServesProxyAndPprof(t *testing.T) {
	dev := devpki.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrs := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--pprof", "127.0.0.1:0", "--cert", dev.CertFile, "--key", dev.KeyFile,
			"--upstream", "ws://127.0.0.1:1/"}, io.Discard, func(p, q string) { addrs <- [2]string{p, q} })
	}()
	var a [2]string
	select {
	case a = <-addrs:
	case err := <-done:
		t.Fatalf("profserve stopped: %v", err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, "http://"+a[1]+"/debug/pprof/heap?debug=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "# HeapInuse") {
		t.Errorf("heap profile: %s, %.80q", resp.Status, body)
	}
	// The proxy answers a WebSocket client; the upstream (port 1) is
	// down, so the handshake is refused with 502.
	_, r, err := ws.Dial(rctx, "wss://"+a[0]+"/", &ws.DialOptions{TLSConfig: devTLS(t, dev)})
	if err == nil || r == nil || r.StatusCode != http.StatusBadGateway {
		t.Errorf("dial through profserve to a dead upstream: %v, %v", r, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}

func TestBadArguments(t *testing.T) {
	dev := devpki.New(t)
	for _, args := range [][]string{
		{},
		{"--cert", dev.CertFile, "--key", dev.KeyFile},
		{"--cert", dev.CertFile, "--key", dev.KeyFile, "--upstream", "ws://127.0.0.1:1/", "--pprof", "0.0.0.0:0"},
		{"--cert", dev.CertFile, "--key", dev.KeyFile, "--upstream", "ws://127.0.0.1:1/", "--pprof", "nohost"},
		{"--cert", "/nonexistent", "--key", dev.KeyFile, "--upstream", "ws://127.0.0.1:1/", "--pprof", "127.0.0.1:0"},
	} {
		if err := run(context.Background(), args, io.Discard, nil); err == nil {
			t.Errorf("run(%q): no error", args)
		}
	}
}

func devTLS(t *testing.T, dev *certs.DevCAResult) *tls.Config {
	t.Helper()
	return &tls.Config{RootCAs: testpeer.CertPool(t, dev.CACertFile), MinVersion: tls.VersionTLS13}
}
