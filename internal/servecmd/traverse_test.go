package servecmd

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/clientcmd"
	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/internal/testpeer/devpki"
	"github.com/wssproxy/wssproxy/ws/echo"
)

// startWSSEcho runs an echo server behind TLS with a dev-CA certificate
// and returns its address and the CA file.
func startWSSEcho(t *testing.T) (string, string) {
	t.Helper()
	pki := devpki.New(t)
	cert := devpki.Certificate(t, pki)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	h := &echo.Handler{}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		h.CloseAll(ctx, 1001, "")
	})
	return ln.Addr().String(), pki.CACertFile
}

// The traversal use: local ws in, wss out through an HTTP CONNECT proxy
// (a real tinyproxy demanding credentials), so the proxy sees only TLS.
func TestServeTraversesConnectProxy(t *testing.T) {
	echoAddr, ca := startWSSEcho(t)
	_, echoPort, _ := net.SplitHostPort(echoAddr)
	proxyAddr := testpeer.StartTinyproxy(t, testpeer.TinyproxyOptions{User: "dave", Pass: "s3cret", ConnectPorts: []int{mustAtoi(t, echoPort)}})

	for _, tc := range []struct {
		proxy string
		ok    bool
	}{
		{"http://dave:s3cret@" + proxyAddr, true},
		{"http://" + proxyAddr, false}, // no credentials: 407, the client gets 502
	} {
		addr := testpeer.FreeAddr(t)
		ctx, cancel := context.WithCancel(context.Background())
		srv := spawnServe(ctx, "--listen", addr, "--upstream", "wss://"+echoAddr+"/",
			"--upstream-ca", ca, "--upstream-sni", "localhost", "--upstream-proxy", tc.proxy, "--log-level", "error")
		done := srv.done
		<-srv.lines.C
		var out, errb bytes.Buffer
		code := clientcmd.Run(ctx, []string{"ws://" + addr + "/", "--proxy", "direct"}, strings.NewReader("through the tunnel\n"), &out, &errb)
		if tc.ok && (code != 0 || out.String() != "through the tunnel\n") {
			t.Errorf("%s: client exit %d, %q, %q", tc.proxy, code, out.String(), errb.String())
		}
		if !tc.ok && (code != clientcmd.ExitRefused || !strings.Contains(errb.String(), "502")) {
			t.Errorf("%s: client exit %d, %q; want a 502", tc.proxy, code, errb.String())
		}
		cancel()
		<-done
	}
}

// The client command reaches a server through a SOCKS5 proxy (microsocks).
func TestClientThroughSOCKS5(t *testing.T) {
	echoAddr, ca := startWSSEcho(t)
	socks := testpeer.StartMicrosocks(t, "erin", "pw")
	_, port, _ := net.SplitHostPort(echoAddr)
	var out, errb bytes.Buffer
	code := clientcmd.Run(context.Background(), []string{"wss://localhost:" + port + "/", "--ca", ca, "--proxy", "socks5h://erin:pw@" + socks},
		strings.NewReader("via socks\n"), &out, &errb)
	if code != 0 || out.String() != "via socks\n" {
		t.Fatalf("exit %d, %q, %q", code, out.String(), errb.String())
	}
}

func mustAtoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
