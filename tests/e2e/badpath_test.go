package e2e

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// upgradeHead is a WebSocket upgrade request head without its final CRLF.
func upgradeHead(extra ...string) string {
	h := "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	for _, e := range extra {
		h += e + "\r\n"
	}
	return h
}

// dialProxy opens a transport connection to the proxy: TLS (trusting the
// dev CA) for a wss proxy, handshake done.
func dialProxy(t *testing.T, px *serveProc) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", px.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if strings.HasPrefix(px.url, "wss:") {
		tc := tls.Client(nc, devRoots(t))
		_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
		if err := tc.Handshake(); err != nil {
			t.Fatalf("TLS handshake with the proxy: %v", err)
		}
		_ = tc.SetDeadline(time.Time{})
		return tc
	}
	return nc
}

// request sends a raw request head to the proxy and returns the status
// and body of its answer.
func request(t *testing.T, px *serveProc, head string) (int, string) {
	t.Helper()
	nc := dialProxy(t, px)
	_ = nc.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.WriteString(nc, head+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatalf("reading the proxy's answer: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return resp.StatusCode, ""
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(body)
}

// --allowed-origin: other origins and requests without Origin get 403.
func TestOriginRefused(t *testing.T) {
	t.Parallel()
	px := startServe(t, append(devCert(), "--allowed-origin", "https://app.example")...)
	for _, tc := range []struct {
		origin string
		want   int
	}{
		{"Origin: https://app.example", 101},
		{"Origin: HTTPS://APP.EXAMPLE", 101},
		{"Origin: https://evil.example", 403},
		{"Origin: http://app.example", 403},
		{"Origin: https://app.example:8443", 403},
		{"Origin: null", 403},
		{"", 403},
	} {
		var extra []string
		if tc.origin != "" {
			extra = append(extra, tc.origin)
		}
		if got, body := request(t, px, upgradeHead(extra...)); got != tc.want {
			t.Errorf("%q: %d %q, want %d", tc.origin, got, body, tc.want)
		}
	}
}

// A request head over the limit (16 KiB by default) gets 431; one just
// under it is served.
func TestOversizedHead(t *testing.T) {
	t.Parallel()
	px := startServe(t, devCert()...)
	if got, body := request(t, px, upgradeHead("X-Big: "+strings.Repeat("a", 20<<10))); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("20 KiB head: %d %q, want 431", got, body)
	}
	if got, body := request(t, px, upgradeHead("X-Big: "+strings.Repeat("a", 12<<10))); got != http.StatusSwitchingProtocols {
		t.Errorf("12 KiB head: %d %q, want 101", got, body)
	}
}

// Slow handshakes are cut at the handshake timeout (10s), whether the
// client never starts TLS or drips its request head a byte at a time,
// while other clients are served.
func TestSlowHandshakeCut(t *testing.T) {
	t.Parallel()
	px := startServe(t, devCert()...)
	const limit = 14 * time.Second // the 10s timeout plus slack for -race on a busy machine
	cut := func(nc net.Conn, start time.Time) time.Duration {
		_ = nc.SetReadDeadline(start.Add(limit))
		_, err := io.ReadAll(nc)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("connection still open after %v", limit)
		}
		return time.Since(start)
	}
	results := make(chan string, 2)
	// Silent: TCP only, no ClientHello.
	start := time.Now()
	silent, err := net.DialTimeout("tcp", px.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() { results <- "silent TCP cut after " + cut(silent, start).Round(100*time.Millisecond).String() }()
	// Dripping: TLS done, then one byte of the head every 250ms.
	dripStart := time.Now()
	drip := dialProxy(t, px)
	stopDrip := make(chan struct{})
	dripped := make(chan struct{})
	go func() {
		defer close(dripped)
		head := upgradeHead(strings.Repeat("X-Slow: 1\r\n", 100))
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < len(head); i++ {
			select {
			case <-stopDrip:
				return
			case <-tick.C:
			}
			if _, err := drip.Write([]byte{head[i]}); err != nil {
				return // cut
			}
		}
	}()
	go func() {
		d := cut(drip, dripStart)
		close(stopDrip)
		results <- "dripping TLS client cut after " + d.Round(100*time.Millisecond).String()
	}()
	// Meanwhile a normal client is served.
	time.Sleep(500 * time.Millisecond)
	if got, body := request(t, px, upgradeHead()); got != http.StatusSwitchingProtocols {
		t.Errorf("normal client during slowloris: %d %q", got, body)
	}
	for range 2 {
		select {
		case r := <-results:
			t.Log(r)
		case <-time.After(limit + 5*time.Second):
			t.Fatal("slow connections were not cut")
		}
	}
	<-dripped
}

// A message over --max-message-size: the offending client gets 1009 and
// the upstream 1001.
func TestMessageTooBig(t *testing.T) {
	t.Parallel()
	eachCrossPair(t, []string{"--max-message-size", "64KiB"}, func(t *testing.T, pc crossPair, srv *peerServer, px *serveProc) {
		ok, big := "fits", "too-big"
		res := runPeerClient(t, pc.client, []clientCase{
			{ID: ok, Op: "echo", URL: px.url + "echo?id=" + ok, Type: "binary", Size: 64 << 10},
			{ID: big, Op: "await-close", URL: px.url + "echo?id=" + big, Size: 64<<10 + 1},
		})
		if r := res[ok]; r.Error != "" || r.Len != 64<<10 || r.Code != 1000 {
			t.Errorf("64 KiB message: %+v", r)
		}
		if r := res[big]; r.Error != "" || r.Code != 1009 {
			t.Errorf("client: close %d %q (error %q), want 1009", r.Code, r.Reason, r.Error)
		} else {
			t.Logf("client got %d %q", r.Code, r.Reason)
		}
		wantUpstreamClose(t, srv, big, 1001)
	})
}

// A wss upstream whose certificate does not match the pin: the client gets
// 502 naming pin-mismatch, with or without CA verification.
func TestUpstreamPinMismatch(t *testing.T) {
	t.Parallel()
	srv := startPeerServer(t, nodePeer(t), true)
	wrong := env.dev.SPKIPin // a real pin, of another certificate
	for name, flags := range map[string][]string{
		"pin-only": {"--upstream-pin", wrong, "--upstream-pin-only"},
		"ca+pin":   {"--upstream-ca", env.up.CACertFile, "--upstream-pin", wrong},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			px := startServe(t, append(append(devCert(), "--upstream", srv.url+"/"), flags...)...)
			got, body := request(t, px, upgradeHead())
			if got != http.StatusBadGateway || !strings.Contains(body, "pin-mismatch") {
				t.Fatalf("answer %d %q, want 502 naming pin-mismatch", got, body)
			}
			t.Logf("502 %q", strings.TrimSpace(body))
			px.waitStderr(t, `"ssl_errors":["pin-mismatch"]`)
		})
	}
}
