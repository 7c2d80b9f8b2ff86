package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/internal/testpeer/devpki"
	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/tlsconf/psk"
	"github.com/wssproxy/wssproxy/ws"
)

// pumpStacks returns the stacks of the goroutines relaying frames, in
// any Server of the process.
func pumpStacks() []string {
	buf := make([]byte, 8<<20)
	n := runtime.Stack(buf, true)
	var pumps []string
	for _, g := range strings.Split(string(buf[:n]), "\n\n") {
		if strings.Contains(g, "proxy.(*pair).pump(") {
			pumps = append(pumps, g)
		}
	}
	return pumps
}

// pumpGoroutines counts the goroutines relaying frames, in any Server of
// the process.
func pumpGoroutines() int { return len(pumpStacks()) }

// awaitParked waits until s has n relay directions parked. On failure it
// shows where the pump goroutines wait, the ones that did not park among
// them.
func awaitParked(t *testing.T, s *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.poller.Len() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d directions parked, want %d; the pump goroutines:\n%s", s.poller.Len(), n, strings.Join(pumpStacks(), "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// echoOnce sends msg on c and checks that the echo comes back whole.
func echoOnce(t *testing.T, c *ws.Conn, msg []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WriteMessage(ctx, ws.MessageBinary, msg); err != nil {
		t.Fatal(err)
	}
	_, got, err := c.ReadMessage(ctx)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo of %d bytes: got %d bytes, %v", len(msg), len(got), err)
	}
}

// A connection idle for longer than parkAfter is parked both ways;
// frames that come afterwards, over TLS on both legs, small and larger
// than a relay piece, arrive whole and in order, and parking repeats.
func TestRelayAcrossParking(t *testing.T) {
	t.Parallel()
	pki := devpki.New(t)
	up := startUpstreamTLSHandler(t, serverTLS(t, pki), echoHandle)
	upClient, err := tlsconf.NewClient(&tlsconf.ClientOptions{CAFile: pki.CACertFile})
	if err != nil {
		t.Fatal(err)
	}
	base, s := startProxyTLS(t, Options{TLS: serverTLS(t, pki), Routes: []Route{{Upstream: up, UpstreamTLS: upClient}}, parkAfter: 50 * time.Millisecond})
	c := dial(t, base, &ws.DialOptions{TLSConfig: &tls.Config{RootCAs: testpeer.CertPool(t, pki.CACertFile), ServerName: "localhost"}})
	big := make([]byte, 3*relayPieceSize+17)
	for i := range big {
		big[i] = byte(i * 7)
	}
	for range 3 {
		awaitParked(t, s, 2)
		for _, msg := range [][]byte{[]byte("after idle"), big, {}} {
			echoOnce(t, c, msg)
		}
	}
}

// Idle connections hold no pump goroutine: with 50 idle connections
// every direction is parked, and each is resumed by the next message.
func TestParkedRelayHoldsNoPump(t *testing.T) {
	base, s := startEchoProxy(t, Options{parkAfter: 20 * time.Millisecond})
	before := pumpGoroutines()
	const n = 50
	conns := make([]*ws.Conn, n)
	for i := range conns {
		conns[i] = dial(t, base, nil)
		echoOnce(t, conns[i], []byte("hello"))
	}
	parked := s.Metrics().relayParked.WithLabelValues(s.routes[0].Name)
	for round := range 2 {
		awaitParked(t, s, 2*n)
		if now := pumpGoroutines(); now > before {
			t.Fatalf("round %d: %d pump goroutines with every direction parked, %d before the connections", round, now, before)
		}
		if v := testutil.ToFloat64(parked); v != 2*n {
			t.Fatalf("round %d: relay_parked %v with every direction parked, want %d", round, v, 2*n)
		}
		for i, c := range conns {
			echoOnce(t, c, bytes.Repeat([]byte{byte(i)}, i*100))
		}
	}
	for _, c := range conns {
		c.Close(ws.StatusNormalClosure, "")
	}
	testpeer.WaitFor(t, 5*time.Second, "relay_parked back to 0 once the connections closed", func() bool {
		return testutil.ToFloat64(parked) == 0
	})
}

// Shutdown closes parked connections like the others: the close frames
// go out, the answers resume the parked directions, and every leg ends
// with the code given.
func TestShutdownClosesParkedPairs(t *testing.T) {
	t.Parallel()
	seen := make(chan ws.StatusCode, 4)
	up := startUpstream(t, nil, reportClose(seen))
	base, s := startProxy(t, Options{Routes: []Route{{Upstream: up.url()}}, parkAfter: 20 * time.Millisecond})
	errs := make(chan error, 4)
	for range 4 {
		c := dial(t, base, nil)
		go func() { _, _, err := c.ReadMessage(context.Background()); errs <- err }()
	}
	awaitParked(t, s, 8)
	if err := s.Shutdown(ctxT(t), ws.StatusServiceRestart, "restarting"); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if code := closeCode(t, <-errs); code != ws.StatusServiceRestart {
			t.Fatalf("client saw %d", code)
		}
		if code := <-seen; code != ws.StatusServiceRestart {
			t.Fatalf("upstream saw %d", code)
		}
	}
	if n := s.poller.Len(); n != 0 {
		t.Fatalf("%d directions still parked after Shutdown", n)
	}
}

// A parked client leg that stops answering keepalive pings is aborted by
// the keepalive timer, which resumes its direction: the pair ends and the
// upstream is told.
func TestParkedLegFailsKeepalive(t *testing.T) {
	t.Parallel()
	seen := make(chan ws.StatusCode, 1)
	up := startUpstream(t, nil, reportClose(seen))
	base, _ := startProxy(t, Options{Routes: []Route{{Upstream: up.url(), PingInterval: 100 * time.Millisecond, PongTimeout: 300 * time.Millisecond}}, parkAfter: 10 * time.Millisecond})
	rc := dialRaw(t, base) // completes the handshake, then reads nothing
	defer rc.nc.Close()
	if code := testpeer.Receive(t, seen, 5*time.Second, "a parked client that never answers pings was not dropped"); code != ws.StatusGoingAway {
		t.Fatalf("upstream saw %d", code)
	}
}

// Behind a PSK listener (psk.MuxConn, with the PSK stack or crypto/tls
// beneath), idle legs are parked like the others, both for a PSK device
// and for a certificate client, and over a PSK upstream; messages cross
// after each park. Before the layers were reached (MuxConn.NetConn), such
// legs held a read buffer and a goroutine for as long as they idled.
func TestParkingBehindPSKListener(t *testing.T) {
	t.Parallel()
	pki := devpki.New(t)
	inner, innerSrv := startEchoProxy(t, Options{PSK: pskServerConfig(), parkAfter: 20 * time.Millisecond})
	innerWSS := "wss://" + strings.TrimPrefix(inner, "ws://")
	outer, outerSrv := startProxyTLS(t, Options{
		TLS: serverTLS(t, pki), PSK: pskServerConfig(), parkAfter: 20 * time.Millisecond,
		Routes: []Route{{Upstream: innerWSS, UpstreamPSK: &psk.ClientConfig{Identity: []byte("device-1"), Key: testKey}}},
	})
	device := &psk.ClientConfig{Identity: []byte("device-1"), Key: testKey}
	conns := []*ws.Conn{
		dial(t, outer, &ws.DialOptions{TLSClient: device.TLSClient}),
		dial(t, outer, &ws.DialOptions{TLSConfig: &tls.Config{RootCAs: testpeer.CertPool(t, pki.CACertFile)}}),
	}
	for round := range 2 {
		awaitParked(t, outerSrv, 4)
		awaitParked(t, innerSrv, 4)
		for i, c := range conns {
			echoOnce(t, c, bytes.Repeat([]byte{byte(round)}, 1000*i+10))
		}
	}
}

// A client behind a trusted PROXY protocol sender (the header read
// through a small buffer kept for the connection's life) is parked like
// the others; its messages cross after each park.
func TestParkingBehindProxyProtocol(t *testing.T) {
	t.Parallel()
	base, s := startEchoProxy(t, Options{
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		parkAfter:      20 * time.Millisecond,
	})
	c := dial(t, base, &ws.DialOptions{NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		nc, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		_, err = io.WriteString(nc, "PROXY TCP4 203.0.113.7 127.0.0.1 5555 443\r\n")
		return nc, err
	}})
	for round := range 2 {
		awaitParked(t, s, 2)
		echoOnce(t, c, []byte{byte(round)})
	}
}
