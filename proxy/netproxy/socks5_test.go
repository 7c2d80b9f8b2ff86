package netproxy_test

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/proxy/netproxy"
)

func TestSOCKS5Microsocks(t *testing.T) {
	proxy := testpeer.StartMicrosocks(t, "", "")
	echoAddr := startEcho(t)
	_, port, _ := net.SplitHostPort(echoAddr)
	for _, tc := range []struct{ scheme, target string }{
		{"socks5", echoAddr},
		{"socks5h", echoAddr},
		{"socks5", "localhost:" + port},  // resolved here
		{"socks5h", "localhost:" + port}, // resolved by microsocks
	} {
		t.Run(tc.scheme+" "+tc.target, func(t *testing.T) {
			c, err := mustDialer(t, tc.scheme+"://"+proxy, nil).DialContext(ctxT(t), "tcp4", tc.target)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			roundTrip(t, c)
		})
	}
	t.Run("refused target", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		closed := ln.Addr().String()
		ln.Close()
		_, err := mustDialer(t, "socks5://"+proxy, nil).DialContext(ctxT(t), "tcp", closed)
		var se *netproxy.SOCKSError
		if !errors.As(err, &se) || se.Reply == 0 || se.Target != closed {
			t.Fatalf("got %v, want a SOCKSError", err)
		}
	})
}

func TestSOCKS5MicrosocksAuth(t *testing.T) {
	const user, pass = "bob", "s0cks-pw"
	proxy := testpeer.StartMicrosocks(t, user, pass)
	echoAddr := startEcho(t)

	t.Run("credentials", func(t *testing.T) {
		dialRoundTrip(t, mustDialer(t, proxyURL("socks5h", user, pass, proxy), nil), echoAddr)
	})
	t.Run("no credentials", func(t *testing.T) {
		_, err := mustDialer(t, "socks5://"+proxy, nil).DialContext(ctxT(t), "tcp", echoAddr)
		if !errors.Is(err, netproxy.ErrAuthRequired) {
			t.Fatalf("got %v, want ErrAuthRequired", err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		_, err := mustDialer(t, proxyURL("socks5", user, "bad-pw", proxy), nil).DialContext(ctxT(t), "tcp", echoAddr)
		if !errors.Is(err, netproxy.ErrAuthFailed) {
			t.Fatalf("got %v, want ErrAuthFailed", err)
		}
		if strings.Contains(err.Error(), "bad-pw") {
			t.Fatalf("password in error: %v", err)
		}
	})
	t.Run("hook", func(t *testing.T) {
		hook, seen := secondGuessHook(user, "bad-pw", pass)
		dialRoundTrip(t, mustDialer(t, "socks5://"+proxy, &netproxy.Options{Auth: hook}), echoAddr)
		if calls := *seen; len(calls) != 2 || calls[0].Scheme != "username/password" || calls[1].Attempt != 2 {
			t.Fatalf("hook calls %+v", calls)
		}
	})
}
