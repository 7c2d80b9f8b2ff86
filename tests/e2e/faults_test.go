package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/tlsconf/psk"
	"github.com/wssproxy/wssproxy/ws"
)

// Faults through the real binary. Each test checks what the other leg
// gets (close code or HTTP status), that serve's log names the cause, that
// a connection open at the same time keeps working (a steady connection
// making round trips), and that no goroutine of the test outlives it.
// They do not run in parallel, so that the goroutine check sees only
// their own.
//
// "Dropped within" bounds are generous (they check that something
// happens, on a shared machine under -race), never a speed target.

// dropBound bounds how long a fault may take to reach the other leg.
const dropBound = 15 * time.Second

// upstreamRoute is a config route to the fault upstream, with extra keys.
func upstreamRoute(u *faultUpstream, extra ...string) []string {
	return append([]string{"upstream: " + u.url + "/"}, extra...)
}

// An upstream that accepts TCP and reads the request but never answers:
// the client gets 502 (or 504) within the upstream timeout, the log says
// why.
func TestFaultUpstreamNeverAnswersUpgrade(t *testing.T) {
	noLeaks(t)
	up := startFaultUpstream(t, false, map[string]upstreamHandler{
		"/mute": func(nc net.Conn, _ *ws.Upgrade, _ <-chan struct{}) { drain(nc) },
	})
	px := serveRoutes(t, true, upstreamRoute(up, "upstream_timeout: 1s"))
	st := startSteady(t, px)
	start := time.Now()
	got, body := request(t, px, strings.Replace(upgradeHead(), "GET /echo ", "GET /mute ", 1))
	took := time.Since(start)
	if got != http.StatusBadGateway && got != http.StatusGatewayTimeout || !strings.Contains(body, "timed out") {
		t.Errorf("answer %d %q, want 502 or 504 saying the upstream timed out", got, body)
	}
	if took > dropBound {
		t.Errorf("answered after %v with upstream_timeout 1s", took)
	}
	t.Logf("%d %q after %v (upstream_timeout 1s)", got, strings.TrimSpace(body), took.Round(10*time.Millisecond))
	l := px.waitLog(t, "upstream failure line", func(l logLine) bool { return strings.HasPrefix(l.str("message"), "upstream failed") })
	if e := l.str("error"); !strings.Contains(e, "deadline") && !strings.Contains(e, "timeout") && !strings.Contains(e, "timed out") {
		t.Errorf("upstream failure logged as %q, want a timeout", e)
	}
	st.check(t)
}

// An upstream that answers 101 and then goes silent (reads, never
// answers pings): with keepalive pings on, the proxy drops it after the
// pong timeout and the client gets 1014.
func TestFaultUpstreamSilentAfter101(t *testing.T) {
	noLeaks(t)
	up := startFaultUpstream(t, false, map[string]upstreamHandler{
		"/silent": func(nc net.Conn, u *ws.Upgrade, _ <-chan struct{}) {
			if _, err := u.Accept(context.Background(), "", "", nil); err == nil {
				drain(nc) // never a pong
			}
		},
	})
	px := serveRoutes(t, true, upstreamRoute(up, "ping_interval: 250ms", "pong_timeout: 750ms"))
	st := startSteady(t, px)
	start := time.Now()
	c := dialThrough(t, px, "silent", nil)
	code, reason := readClose(t, c)
	took := time.Since(start)
	if code != ws.StatusBadGateway {
		t.Errorf("client got %d %q, want 1014", code, reason)
	}
	if took > dropBound {
		t.Errorf("dropped after %v with pong_timeout 750ms", took)
	}
	t.Logf("client got %d %q after %v (ping 250ms, pong timeout 750ms)", code, reason, took.Round(10*time.Millisecond))
	closedLog(t, px, c, "keepalive")
	st.check(t)
}

// The upstream connection is reset (TCP RST) in the middle of a frame, or
// between the fragments of a message: the client gets 1014.
func TestFaultUpstreamReset(t *testing.T) {
	noLeaks(t)
	up := startFaultUpstream(t, false, map[string]upstreamHandler{
		"/rst-mid-frame": func(nc net.Conn, u *ws.Upgrade, _ <-chan struct{}) {
			if _, err := u.Accept(context.Background(), "", "", nil); err != nil {
				return
			}
			// A binary frame announcing 1 MiB, of which 1000 bytes come.
			var hb [ws.MaxHeaderSize]byte
			n, _ := ws.PutHeader(&hb, ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 1 << 20})
			_, _ = nc.Write(append(hb[:n], make([]byte, 1000)...))
			time.Sleep(200 * time.Millisecond)
			reset(nc)
		},
		"/rst-mid-message": func(nc net.Conn, u *ws.Upgrade, _ <-chan struct{}) {
			c, err := u.Accept(context.Background(), "", "", nil)
			if err != nil {
				return
			}
			p := []byte("the first fragment ✓")
			_ = c.WriteFrame(context.Background(), ws.Header{OpCode: ws.OpText, Length: int64(len(p))}, p)
			time.Sleep(200 * time.Millisecond)
			reset(nc)
		},
	})
	px := serveRoutes(t, true, upstreamRoute(up))
	for _, path := range []string{"rst-mid-frame", "rst-mid-message"} {
		t.Run(path, func(t *testing.T) { expectUpstreamLost(t, px, path) })
	}
}

// The upstream's host does not resolve, or refuses the connection: the
// client gets 502 with a reason, the log says what failed, and another
// route keeps working.
func TestFaultUpstreamUnreachable(t *testing.T) {
	noLeaks(t)
	up := startFaultUpstream(t, false, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	for _, tc := range []struct {
		name, upstream, reason, logged string
	}{
		// .invalid never resolves (RFC 6761).
		{"dns", "ws://no-such-host.wssproxy.invalid:8080/", "upstream", "no such host"},
		{"refused", "ws://" + refused + "/", "refused", "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			px := serveRoutes(t, true,
				[]string{"path: /steady", "upstream: " + up.url + "/"},
				[]string{"path: /", "upstream: " + tc.upstream, "upstream_timeout: 10s"})
			st := startSteady(t, px)
			got, body := request(t, px, upgradeHead())
			if got != http.StatusBadGateway || !strings.Contains(body, tc.reason) {
				t.Errorf("answer %d %q, want 502 with a reason naming %q", got, body, tc.reason)
			} else {
				t.Logf("502 %q", strings.TrimSpace(body))
			}
			l := px.waitLog(t, "upstream failure line", func(l logLine) bool { return strings.HasPrefix(l.str("message"), "upstream failed") })
			if !strings.Contains(l.str("error"), tc.logged) {
				t.Errorf("upstream failure logged as %q, want it to say %q", l.str("error"), tc.logged)
			}
			st.check(t)
		})
	}
}

// leafOf returns the SHA-256 of the certificate the proxy serves now.
func leafOf(t *testing.T, px *serveProc) string {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", px.addr, devRoots(t))
	if err != nil {
		t.Fatalf("TLS handshake with the proxy: %v", err)
	}
	defer c.Close()
	sum := sha256.Sum256(c.ConnectionState().PeerCertificates[0].Raw)
	return hex.EncodeToString(sum[:])
}

// The certificate files of a running listener are deleted, or replaced
// with garbage: a SIGHUP reload fails with a logged error and the
// listener keeps serving the old certificate, to connections open before
// and to new ones.
func TestFaultCertFilesBroken(t *testing.T) {
	noLeaks(t)
	up := startFaultUpstream(t, false, nil)
	for _, tc := range []struct {
		name   string
		break_ func(cert, key string) error
	}{
		{"deleted", func(cert, key string) error {
			return errors.Join(os.Remove(cert), os.Remove(key))
		}},
		{"garbage", func(cert, key string) error {
			return errors.Join(os.WriteFile(cert, []byte("-----BEGIN CERTIFICATE-----\ngarbage\n"), 0o600),
				os.WriteFile(key, []byte("not a key at all"), 0o600))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
			copyFile(t, env.dev.CertFile, cert)
			copyFile(t, env.dev.KeyFile, key)
			px := startServe(t, "--cert", cert, "--key", key, "--upstream", up.url+"/")
			before := leafOf(t, px)
			st := startSteady(t, px)
			if err := tc.break_(cert, key); err != nil {
				t.Fatal(err)
			}
			if err := px.cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			l := px.waitLog(t, "failed reload line", func(l logLine) bool {
				return strings.Contains(l.str("message"), "reload failed") && l.str("level") == "error"
			})
			t.Logf("logged: %s: %s", l.str("message"), l.str("error"))
			if after := leafOf(t, px); after != before {
				t.Errorf("the proxy serves certificate %s after the failed reload, want the old %s", after, before)
			}
			c := dialThrough(t, px, "after-reload", nil)
			if err := c.WriteMessage(testpeer.Context(t, waitTimeout), ws.MessageText, []byte("still served")); err != nil {
				t.Fatal(err)
			}
			if _, msg, err := c.ReadMessage(testpeer.Context(t, waitTimeout)); err != nil || string(msg) != "still served" {
				t.Errorf("new connection after the failed reload: %q, %v", msg, err)
			}
			st.check(t)
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// The PSK file of a running listener is replaced with garbage: the
// identities loaded before keep working and the failed reload is logged.
func TestFaultPSKFileGarbage(t *testing.T) {
	noLeaks(t)
	up := startFaultUpstream(t, false, nil)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	file := filepath.Join(t.TempDir(), "psk.txt")
	if err := os.WriteFile(file, []byte("device-1:"+hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	px := startServe(t, append(devCert(), "--psk-file", file, "--upstream", up.url+"/")...)
	device := &ws.DialOptions{TLSClient: (&psk.ClientConfig{Identity: []byte("device-1"), Key: key}).TLSClient}
	echoOnce := func(what string) {
		t.Helper()
		c := dialThrough(t, px, "psk", device)
		ctx := testpeer.Context(t, waitTimeout)
		testpeer.Echo(ctx, t, c, ws.MessageText, what)
		if err := c.Close(ws.StatusNormalClosure, ""); err != nil {
			t.Errorf("%s: close: %v", what, err)
		}
	}
	echoOnce("PSK device before")
	st := startSteady(t, px)
	if err := os.WriteFile(file, []byte("\x00\xffgarbage without a colon\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The key file is checked for changes at most once a second, at a
	// handshake.
	time.Sleep(1200 * time.Millisecond)
	echoOnce("PSK device after the file broke")
	l := px.waitLog(t, "failed PSK reload line", func(l logLine) bool { return strings.Contains(l.str("message"), "key file not reloaded") })
	t.Logf("logged: %s: %s", l.str("message"), l.str("error"))
	if strings.Contains(px.stderr.String(), hex.EncodeToString(key)) {
		t.Errorf("the PSK appears in the log")
	}
	st.check(t)
}

// A leg's transport ends without a close frame: a TCP FIN (CloseWrite)
// or a TLS close_notify alert. The other leg gets 1001 (the client went)
// or 1014 (the upstream went).
func TestFaultHalfClose(t *testing.T) {
	noLeaks(t)
	halfClose := func(tlsAlert bool) upstreamHandler {
		return func(nc net.Conn, u *ws.Upgrade, _ <-chan struct{}) {
			if _, err := u.Accept(context.Background(), "", "", nil); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
			if tc, ok := nc.(*tls.Conn); ok && tlsAlert {
				_ = tc.CloseWrite() // close_notify, TCP still open
			} else if tc, ok := nc.(*tls.Conn); ok {
				_ = tc.NetConn().(*net.TCPConn).CloseWrite()
			} else {
				_ = nc.(*net.TCPConn).CloseWrite()
			}
			drain(nc)
		}
	}
	handlers := map[string]upstreamHandler{"/half-tcp": halfClose(false), "/close-notify": halfClose(true)}
	plain := startFaultUpstream(t, false, handlers)
	secure := startFaultUpstream(t, true, handlers)
	caRoute := func(u *faultUpstream) []string {
		if strings.HasPrefix(u.url, "wss:") {
			return upstreamRoute(u, "upstream_tls:", "  ca_file: "+env.up.CACertFile)
		}
		return upstreamRoute(u)
	}
	// The client half-closes: a TCP FIN, or a TLS close_notify with TCP
	// still open.
	for _, hc := range []struct {
		name, path string
		tls        bool
		closeWrite func(t *testing.T, c *ws.Conn) error
	}{
		{"client-tcp-fin", "client-fin", false, func(t *testing.T, c *ws.Conn) error { return tcpOf(t, c.NetConn()).CloseWrite() }},
		{"client-tls-close-notify", "client-notify", true, func(t *testing.T, c *ws.Conn) error {
			tc, ok := c.NetConn().(*tls.Conn)
			if !ok {
				t.Fatalf("client transport %T, want TLS", c.NetConn())
			}
			return tc.CloseWrite()
		}},
	} {
		t.Run(hc.name, func(t *testing.T) {
			px := serveRoutes(t, hc.tls, caRoute(plain))
			st := startSteady(t, px)
			c := dialThrough(t, px, hc.path, nil)
			start := time.Now()
			if err := hc.closeWrite(t, c); err != nil {
				t.Fatal(err)
			}
			if code, took := plain.waitClosed(t, "/"+hc.path, start); code != ws.StatusGoingAway {
				t.Errorf("upstream got %d, want 1001", code)
			} else {
				t.Logf("upstream got 1001 after %v", took.Round(time.Millisecond))
			}
			closedLog(t, px, c, "client")
			st.check(t)
		})
	}
	for _, tc := range []struct {
		name string
		up   *faultUpstream
		path string
	}{
		{"upstream-tcp-fin", plain, "half-tcp"},
		{"upstream-tls-tcp-fin", secure, "half-tcp"},
		{"upstream-tls-close-notify", secure, "close-notify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectUpstreamLost(t, serveRoutes(t, true, caRoute(tc.up)), tc.path)
		})
	}
}

// A client sends a frame header announcing 1 MiB, a few bytes, then
// nothing: after the frame-progress timeout (--frame-timeout, 300ms here)
// the upstream gets 1001 and the connection ends, within about 2s.
// Needs the lead's --frame-timeout flag (issue 9, item 1).
func TestFaultStalledFrame(t *testing.T) {
	noLeaks(t)
	up := startFaultUpstream(t, false, nil)
	px := startServe(t, append(devCert(), "--upstream", up.url+"/", "--frame-timeout", "300ms")...)
	st := startSteady(t, px)
	c := dialThrough(t, px, "stalled", nil)
	var hb [ws.MaxHeaderSize]byte
	n, err := ws.PutHeader(&hb, ws.Header{Fin: true, OpCode: ws.OpBinary, Masked: true, Mask: [4]byte{1, 2, 3, 4}, Length: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.NetConn().Write(append(hb[:n], make([]byte, 1000)...)); err != nil {
		t.Fatal(err)
	}
	code, took := up.waitClosed(t, "/stalled", start)
	if code != ws.StatusGoingAway {
		t.Errorf("upstream got %d, want 1001", code)
	}
	ccode, creason := readClose(t, c)
	ended := time.Since(start)
	t.Logf("upstream got %d after %v; client got %d %q; ended after %v", code, took.Round(time.Millisecond), ccode, creason, ended.Round(time.Millisecond))
	if ended > 5*time.Second {
		t.Errorf("the stalled connection ended after %v with --frame-timeout 300ms, want about 2s", ended)
	}
	closedLog(t, px, c, "")
	st.check(t)
}

// rssGrowthBound bounds how much the proxy's RSS may grow while a peer
// that never reads is offered far more than that.
const rssGrowthBound = 64 << 20

// A peer that never reads (the upstream, or the client): the other side's
// writes are slowed by TCP backpressure through the proxy instead of
// being buffered in it: the writer gets far less than it offers accepted,
// and the proxy's RSS stays bounded.
func TestFaultNeverReads(t *testing.T) {
	noLeaks(t)
	const offered = 512 << 20 // what the writer tries to push, in 1 MiB messages
	const window = 4 * time.Second
	msg := make([]byte, 1<<20)
	flooded := make(chan int64, 1)
	up := startFaultUpstream(t, false, map[string]upstreamHandler{
		"/no-read": func(nc net.Conn, u *ws.Upgrade, done <-chan struct{}) {
			if _, err := u.Accept(context.Background(), "", "", nil); err == nil {
				<-done // never reads
			}
		},
		"/flood": func(nc net.Conn, u *ws.Upgrade, _ <-chan struct{}) {
			c, err := u.Accept(context.Background(), "", "", nil)
			if err != nil {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), window)
			defer cancel()
			var sent int64
			for sent < offered && c.WriteMessage(ctx, ws.MessageBinary, msg) == nil {
				sent += int64(len(msg))
			}
			flooded <- sent
		},
	})
	px := serveRoutes(t, true, upstreamRoute(up, "max_message_size: 2MiB"))
	pid := px.cmd.Process.Pid
	st := startSteady(t, px)
	base := procStatus(t, pid, "VmRSS")
	check := func(t *testing.T, who string, accepted int64) {
		rss := procStatus(t, pid, "VmRSS")
		t.Logf("%s: %d MiB of %d MiB accepted in %v; proxy VmRSS %.1f -> %.1f MiB", who, accepted>>20, offered>>20, window,
			float64(base)/(1<<20), float64(rss)/(1<<20))
		if accepted >= 64<<20 {
			t.Errorf("%s: %d MiB accepted while the reader reads nothing: buffered, not slowed", who, accepted>>20)
		}
		if rss-base > rssGrowthBound {
			t.Errorf("proxy RSS grew by %.1f MiB (bound %d MiB)", float64(rss-base)/(1<<20), rssGrowthBound>>20)
		}
	}
	t.Run("upstream-never-reads", func(t *testing.T) {
		c := dialThrough(t, px, "no-read", nil)
		ctx, cancel := context.WithTimeout(context.Background(), window)
		defer cancel()
		var sent int64
		for sent < offered && c.WriteMessage(ctx, ws.MessageBinary, msg) == nil {
			sent += int64(len(msg))
		}
		check(t, "client writing", sent)
	})
	t.Run("client-never-reads", func(t *testing.T) {
		c := dialThrough(t, px, "flood", nil)
		select {
		case sent := <-flooded:
			check(t, "upstream writing", sent)
		case <-time.After(window + waitTimeout):
			t.Fatal("the upstream's writes did not end")
		}
		c.Abort()
	})
	st.check(t)
}

// As TestFaultNeverReads, with --write-timeout 500ms: the leg that does
// not read is dropped; the writer's side learns it (1014 for the client
// when the upstream is dropped, 1001 for the upstream when the client is).
// Needs the lead's --write-timeout flag (issue 9, item 2).
func TestFaultNeverReadsDropped(t *testing.T) {
	noLeaks(t)
	msg := make([]byte, 256<<10)
	upClosed := make(chan ws.StatusCode, 1)
	up := startFaultUpstream(t, false, map[string]upstreamHandler{
		"/no-read": func(nc net.Conn, u *ws.Upgrade, done <-chan struct{}) {
			if _, err := u.Accept(context.Background(), "", "", nil); err == nil {
				<-done
			}
		},
		"/flood": func(nc net.Conn, u *ws.Upgrade, done <-chan struct{}) {
			c, err := u.Accept(context.Background(), "", "", nil)
			if err != nil {
				return
			}
			defer c.Abort()
			var stop atomic.Bool
			writer := make(chan struct{})
			go func() {
				defer close(writer)
				for !stop.Load() && c.WriteMessage(context.Background(), ws.MessageBinary, msg) == nil {
				}
			}()
			code, _, _ := closeOf(context.Background(), c) // ended by the test's cleanup at the latest
			stop.Store(true)
			upClosed <- code
			c.Abort()
			<-writer
		},
	})
	px := startServe(t, append(devCert(), "--upstream", up.url+"/", "--write-timeout", "500ms")...)
	st := startSteady(t, px)
	t.Run("upstream-dropped", func(t *testing.T) {
		c := dialThrough(t, px, "no-read", nil)
		writer := make(chan struct{})
		go func() {
			defer close(writer)
			for c.WriteMessage(context.Background(), ws.MessageBinary, msg) == nil {
			}
		}()
		start := time.Now()
		code, reason := readClose(t, c)
		c.Abort()
		<-writer
		if code != ws.StatusBadGateway {
			t.Errorf("client got %d %q, want 1014", code, reason)
		}
		if took := time.Since(start); took > dropBound {
			t.Errorf("dropped after %v with --write-timeout 500ms", took)
		} else {
			t.Logf("client got %d %q after %v", code, reason, took.Round(time.Millisecond))
		}
		closedLog(t, px, c, "upstream")
	})
	t.Run("client-dropped", func(t *testing.T) {
		c := dialThrough(t, px, "flood", nil)
		start := time.Now()
		select {
		case code := <-upClosed:
			if code != ws.StatusGoingAway {
				t.Errorf("upstream got %d, want 1001", code)
			} else {
				t.Logf("upstream got 1001 after %v", time.Since(start).Round(time.Millisecond))
			}
		case <-time.After(dropBound):
			t.Errorf("a client that never reads was not dropped within %v", dropBound)
		}
		closedLog(t, px, c, "client")
	})
	st.check(t)
}
