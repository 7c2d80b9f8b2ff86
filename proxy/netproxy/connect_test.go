package netproxy_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/proxy/netproxy"
	"github.com/wssproxy/wssproxy/ws"
	"github.com/wssproxy/wssproxy/ws/echo"
)

func TestConnectTinyproxy(t *testing.T) {
	proxy := testpeer.StartTinyproxy(t, testpeer.TinyproxyOptions{})
	t.Logf("peer: %s", testpeer.ProgramVersion("tinyproxy", "-v"))
	echoAddr := startEcho(t)
	var logs bytes.Buffer
	d := mustDialer(t, "http://"+proxy, &netproxy.Options{Logger: zerolog.New(&logs).Level(zerolog.DebugLevel)})
	dialRoundTrip(t, d, echoAddr)
	if !strings.Contains(logs.String(), "tunnel established") {
		t.Errorf("no debug log line: %s", logs.String())
	}

	// A WebSocket through the tunnel.
	srv := httptest.NewServer(&echo.Handler{})
	defer srv.Close()
	ctx := ctxT(t)
	wc, _, err := ws.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/", &ws.DialOptions{NetDial: d.DialContext})
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Abort()
	testpeer.Echo(ctx, t, wc, ws.MessageText, "via tinyproxy")
	_ = wc.Close(ws.StatusNormalClosure, "")
}

func TestConnectTinyproxyForbiddenPort(t *testing.T) {
	proxy := testpeer.StartTinyproxy(t, testpeer.TinyproxyOptions{ConnectPorts: []int{443}})
	echoAddr := startEcho(t)
	d := mustDialer(t, "http://"+proxy, nil)
	_, err := d.DialContext(ctxT(t), "tcp", echoAddr)
	var ce *netproxy.ConnectError
	if !errors.As(err, &ce) || ce.StatusCode != 403 || !strings.HasPrefix(ce.Status, "HTTP/1.") || !strings.Contains(ce.Status, "403") {
		t.Fatalf("got %v, want a ConnectError with the 403 status line", err)
	}
	if errors.Is(err, netproxy.ErrAuthRequired) {
		t.Fatal("403 must not be ErrAuthRequired")
	}
	if !strings.Contains(err.Error(), echoAddr) || !strings.Contains(err.Error(), proxy) {
		t.Fatalf("error lacks target or proxy: %v", err)
	}
}

func TestConnectTinyproxyAuth(t *testing.T) {
	const user, pass = "alice", "s3cr3t-pw"
	proxy := testpeer.StartTinyproxy(t, testpeer.TinyproxyOptions{User: user, Pass: pass})
	echoAddr := startEcho(t)

	t.Run("no credentials no hook", func(t *testing.T) {
		_, err := mustDialer(t, "http://"+proxy, nil).DialContext(ctxT(t), "tcp", echoAddr)
		var ce *netproxy.ConnectError
		if !errors.Is(err, netproxy.ErrAuthRequired) || !errors.As(err, &ce) || ce.StatusCode != 407 {
			t.Fatalf("got %v, want 407 ErrAuthRequired", err)
		}
	})
	t.Run("wrong URL credentials", func(t *testing.T) {
		_, err := mustDialer(t, proxyURL("http", user, "wrong-pw", proxy), nil).DialContext(ctxT(t), "tcp", echoAddr)
		if !errors.Is(err, netproxy.ErrAuthRequired) {
			t.Fatalf("got %v, want ErrAuthRequired", err)
		}
		if strings.Contains(err.Error(), "wrong-pw") || strings.Contains(err.Error(), user) {
			t.Fatalf("credentials in error: %v", err)
		}
	})
	t.Run("URL credentials", func(t *testing.T) {
		var logs bytes.Buffer
		d := mustDialer(t, proxyURL("http", user, pass, proxy), &netproxy.Options{Logger: zerolog.New(&logs).Level(zerolog.TraceLevel)})
		if strings.Contains(d.Proxy(), pass) || strings.Contains(d.Proxy(), user) {
			t.Fatalf("Proxy() shows credentials: %s", d.Proxy())
		}
		dialRoundTrip(t, d, echoAddr)
		if strings.Contains(logs.String(), pass) {
			t.Fatalf("password logged: %s", logs.String())
		}
	})
	t.Run("hook", func(t *testing.T) {
		hook, seen := secondGuessHook(user, "first-guess-wrong", pass)
		dialRoundTrip(t, mustDialer(t, "http://"+proxy, &netproxy.Options{Auth: hook}), echoAddr)
		if calls := *seen; len(calls) != 2 || calls[0].Scheme != "Basic" || calls[0].Realm == "" || calls[1].Attempt != 2 || calls[0].Proxy != "http://"+proxy {
			t.Fatalf("hook calls %+v", calls)
		}
	})
	t.Run("hook gives up", func(t *testing.T) {
		errNo := errors.New("user declined")
		hook := func(context.Context, netproxy.Challenge) (string, string, error) { return "", "", errNo }
		_, err := mustDialer(t, "http://"+proxy, &netproxy.Options{Auth: hook}).DialContext(ctxT(t), "tcp", echoAddr)
		if !errors.Is(err, errNo) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("hook keeps failing", func(t *testing.T) {
		var n atomic.Int32
		hook := func(context.Context, netproxy.Challenge) (string, string, error) { n.Add(1); return "x", "y", nil }
		_, err := mustDialer(t, "http://"+proxy, &netproxy.Options{Auth: hook}).DialContext(ctxT(t), "tcp", echoAddr)
		if !errors.Is(err, netproxy.ErrAuthRequired) || n.Load() != 3 {
			t.Fatalf("got %v after %d hook calls, want ErrAuthRequired after 3", err, n.Load())
		}
	})
}

func TestConnectHTTPSProxy(t *testing.T) {
	proxy := testpeer.StartTinyproxy(t, testpeer.TinyproxyOptions{})
	srvCfg, pool := devTLS(t)
	front := tlsFront(t, srvCfg, proxy)
	echoAddr := startEcho(t)
	_, port, _ := net.SplitHostPort(front)

	d := mustDialer(t, "https://localhost:"+port, &netproxy.Options{TLSConfig: &tls.Config{RootCAs: pool}})
	dialRoundTrip(t, d, echoAddr)

	// Without the dev CA the proxy's certificate is refused.
	_, err := mustDialer(t, "https://localhost:"+port, nil).DialContext(ctxT(t), "tcp", echoAddr)
	if err == nil || !strings.Contains(err.Error(), "TLS to proxy") {
		t.Fatalf("untrusted proxy certificate: got %v", err)
	}
}
