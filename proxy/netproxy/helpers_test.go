package netproxy_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/internal/testpeer/devpki"
	"github.com/wssproxy/wssproxy/proxy/netproxy"
)

// startEcho runs a TCP echo server on 127.0.0.1 and returns its address.
func startEcho(t *testing.T) string {
	t.Helper()
	return serve(t, func(c net.Conn) { _, _ = io.Copy(c, c) })
}

// serve runs handle for each connection accepted on a fresh 127.0.0.1
// listener until the test ends; then the connections are closed and the
// handlers waited for.
func serve(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	return testpeer.Serve(t, testpeer.Listen(t), func(ctx context.Context, c net.Conn) {
		defer c.Close()
		defer context.AfterFunc(ctx, func() { c.Close() })()
		handle(c)
	})
}

// roundTrip writes a line through c and expects it back.
func roundTrip(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	msg := []byte("hello through the proxy\n")
	if _, err := c.Write(msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(got) != string(msg) {
		t.Fatalf("echo: got %q", got)
	}
}

// dialRoundTrip dials addr through d and checks that a line comes back
// through the tunnel (roundTrip).
func dialRoundTrip(t *testing.T, d *netproxy.Dialer, addr string) {
	t.Helper()
	c, err := d.DialContext(ctxT(t), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip(t, c)
}

// secondGuessHook is an Auth hook that answers the first challenge with
// user and wrong, the later ones with user and pass, and records every
// challenge in *calls.
func secondGuessHook(user, wrong, pass string) (hook netproxy.AuthFunc, calls *[]netproxy.Challenge) {
	calls = new([]netproxy.Challenge)
	hook = func(_ context.Context, ch netproxy.Challenge) (string, string, error) {
		*calls = append(*calls, ch)
		if ch.Attempt == 1 {
			return user, wrong, nil
		}
		return user, pass, nil
	}
	return hook, calls
}

func mustDialer(t *testing.T, proxyURL string, opts *netproxy.Options) *netproxy.Dialer {
	t.Helper()
	u, err := netproxy.ParseURL(proxyURL)
	if err != nil {
		t.Fatal(err)
	}
	d, err := netproxy.New(u, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func ctxT(t *testing.T) context.Context { return testpeer.Context(t, 20*time.Second) }

// devTLS returns a server config with a dev-CA certificate for
// localhost/127.0.0.1 and a pool trusting that CA.
func devTLS(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	r := devpki.New(t)
	cert := devpki.Certificate(t, r)
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, testpeer.CertPool(t, r.CACertFile)
}

// tlsFront terminates TLS on a fresh port and forwards the plain bytes to
// backend: it turns a plain HTTP proxy into an https:// one.
func tlsFront(t *testing.T, cfg *tls.Config, backend string) string {
	t.Helper()
	return serve(t, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		if err := tc.Handshake(); err != nil {
			return
		}
		b, err := net.Dial("tcp", backend)
		if err != nil {
			return
		}
		defer b.Close()
		done := make(chan struct{})
		go func() { _, _ = io.Copy(b, tc); b.(*net.TCPConn).CloseWrite(); close(done) }()
		_, _ = io.Copy(tc, b)
		tc.Close()
		<-done
	})
}

// proxyURL builds scheme://[user:pass@]addr.
func proxyURL(scheme, user, pass, addr string) string {
	u := url.URL{Scheme: scheme, Host: addr}
	if user != "" {
		u.User = url.UserPassword(user, pass)
	}
	return u.String()
}
