package netproxy_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/proxy/netproxy"
	"github.com/wssproxy/wssproxy/ws"
	"github.com/wssproxy/wssproxy/ws/echo"
)

// authRecorder is an Options.Dial that records the scheme of every
// Proxy-Authorization the dialer sends, and the connections it opens.
type authRecorder struct {
	mu      sync.Mutex
	schemes []string
	conns   int
}

func (r *authRecorder) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.conns++
	r.mu.Unlock()
	return &recConn{Conn: c, r: r}, nil
}

func (r *authRecorder) seen() ([]string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.schemes), r.conns
}

type recConn struct {
	net.Conn
	r    *authRecorder
	done bool // the tunnel is up: stop looking
}

func (c *recConn) Write(p []byte) (int, error) {
	if !c.done && strings.HasPrefix(string(p), "CONNECT ") {
		for _, line := range strings.Split(string(p), "\r\n") {
			if v, ok := strings.CutPrefix(line, "Proxy-Authorization: "); ok {
				scheme, _, _ := strings.Cut(v, " ")
				c.r.mu.Lock()
				c.r.schemes = append(c.r.schemes, scheme)
				c.r.mu.Unlock()
			}
		}
	} else {
		c.done = true
	}
	return c.Conn.Write(p)
}

// wssEcho runs a wss echo server on 127.0.0.1 and returns its URL and a
// client TLS config trusting it.
func wssEcho(t *testing.T) (string, *tls.Config) {
	t.Helper()
	h := &echo.Handler{}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2e9)
		defer cancel()
		h.CloseAll(ctx, ws.StatusGoingAway, "")
		srv.Close()
	})
	return "wss" + strings.TrimPrefix(srv.URL, "https") + "/", &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
}

// wssThrough opens a WebSocket to the wss echo through d and exchanges a
// message.
func wssThrough(t *testing.T, d *netproxy.Dialer, url string, tc *tls.Config) {
	t.Helper()
	ctx := ctxT(t)
	c, _, err := ws.Dial(ctx, url, &ws.DialOptions{NetDial: d.DialContext, TLSConfig: tc})
	if err != nil {
		t.Fatalf("wss through %s: %v", d.Proxy(), err)
	}
	defer c.Abort()
	testpeer.Echo(ctx, t, c, ws.MessageText, "through an authenticating proxy")
	_ = c.Close(ws.StatusNormalClosure, "")
}

// kerberosRealm starts a KDC with the user alice (password alicepw) and
// the proxy's service principal HTTP/localhost, and returns it with the
// service keytab.
func kerberosRealm(t *testing.T) (*testpeer.KDC, string) {
	t.Helper()
	kdc := testpeer.StartKDC(t)
	kdc.AddUser(t, "alice", "alicepw")
	return kdc, kdc.AddService(t, "HTTP/localhost")
}

func squidWithKerberos(t *testing.T, kdc *testpeer.KDC, keytab string, o testpeer.SquidOptions) *testpeer.Squid {
	o.KDC, o.NegotiateKeytab, o.NegotiateSPN = kdc, keytab, "HTTP/localhost@"+kdc.Realm
	return testpeer.StartSquid(t, o)
}

// localhostURL is http://[user:pass@]localhost:PORT for a squid: the
// Negotiate SPN is HTTP/<proxy host>.
func localhostURL(user, pass string, sq *testpeer.Squid) string {
	_, port, _ := net.SplitHostPort(sq.Addr)
	return proxyURL("http", user, pass, "localhost:"+port)
}

// Each scheme, alone, through a real squid: the tunnel carries a wss
// WebSocket, the dialer sent that scheme, and wrong credentials give a
// ConnectError naming the 407 and the scheme offered.
func TestSquidEachScheme(t *testing.T) {
	url, tc := wssEcho(t)
	t.Logf("peer: %s", testpeer.ProgramVersion("squid", "-v"))

	t.Run("Basic", func(t *testing.T) {
		sq := testpeer.StartSquid(t, testpeer.SquidOptions{Basic: map[string]string{"alice": "basic-pw"}})
		checkScheme(t, url, tc, proxyURL("http", "alice", "basic-pw", sq.Addr), nil, "Basic")
		checkRefused(t, proxyURL("http", "alice", "wrong-pw", sq.Addr), nil, "Basic", true)
	})
	t.Run("Digest", func(t *testing.T) {
		sq := testpeer.StartSquid(t, testpeer.SquidOptions{Digest: map[string]string{"alice": "digest-pw"}})
		checkScheme(t, url, tc, proxyURL("http", "alice", "digest-pw", sq.Addr), nil, "Digest")
		checkRefused(t, proxyURL("http", "alice", "wrong-pw", sq.Addr), nil, "Digest", true)
		// The hook's first answer is refused, its second accepted.
		hook, seen := secondGuessHook("alice", "wrong-pw", "digest-pw")
		checkScheme(t, url, tc, "http://"+sq.Addr, &netproxy.Options{Auth: hook}, "Digest", "Digest")
		if asked := *seen; len(asked) != 2 || asked[0].Scheme != "Digest" || asked[0].Realm != "wssproxy-test" || asked[1].Attempt != 2 {
			t.Fatalf("hook asked %+v", asked)
		}
	})
	t.Run("NTLM", func(t *testing.T) {
		// ntlm_fake_auth accepts any password: the ACL lets only
		// TESTDOM\alice in, so a wrong user is refused.
		sq := testpeer.StartSquid(t, testpeer.SquidOptions{NTLM: true, Users: []string{`TESTDOM\alice`}})
		checkScheme(t, url, tc, proxyURL("http", `TESTDOM\alice`, "ntlm-pw", sq.Addr), nil, "NTLM", "NTLM")
		checkRefused(t, proxyURL("http", `TESTDOM\mallory`, "ntlm-pw", sq.Addr), nil, "NTLM", true)
		if log := sq.AccessLog(); !strings.Contains(log, `TESTDOM\alice CONNECT`) {
			t.Fatalf("squid did not see the NTLM user:\n%s", log)
		}
	})
	t.Run("Negotiate", func(t *testing.T) {
		kdc, keytab := kerberosRealm(t)
		sq := squidWithKerberos(t, kdc, keytab, testpeer.SquidOptions{})
		proxy := localhostURL("", "", sq)
		t.Run("keytab", func(t *testing.T) {
			k := &netproxy.Kerberos{Config: kdc.Conf, Keytab: kdc.Keytab(t, "alice")}
			checkScheme(t, url, tc, proxy, &netproxy.Options{Kerberos: k}, "Negotiate")
		})
		t.Run("ccache", func(t *testing.T) {
			k := &netproxy.Kerberos{Config: kdc.Conf, CCache: kdc.Kinit(t, "alice", "alicepw")}
			checkScheme(t, url, tc, proxy, &netproxy.Options{Kerberos: k}, "Negotiate")
		})
		t.Run("environment", func(t *testing.T) {
			t.Setenv("KRB5_CONFIG", kdc.Conf)
			t.Setenv("KRB5CCNAME", "FILE:"+kdc.Kinit(t, "alice", "alicepw"))
			checkScheme(t, url, tc, proxy, &netproxy.Options{Kerberos: netproxy.KerberosFromEnvironment()}, "Negotiate")
		})
		t.Run("password from the hook", func(t *testing.T) {
			var asked []netproxy.Challenge
			hook := func(_ context.Context, c netproxy.Challenge) (string, string, error) {
				asked = append(asked, c)
				return "alice", "alicepw", nil
			}
			k := &netproxy.Kerberos{Config: kdc.Conf, CCache: "/nonexistent/none"}
			_, err := mustDialer(t, proxy, &netproxy.Options{Kerberos: k, Auth: hook}).DialContext(ctxT(t), "tcp", "127.0.0.1:9")
			if err == nil || !strings.Contains(err.Error(), "credentials cache") {
				t.Fatalf("a missing explicit ccache: got %v", err)
			}
			k.CCache = ""
			t.Setenv("KRB5CCNAME", "")
			t.Setenv("KRB5_CLIENT_KTNAME", "")
			checkScheme(t, url, tc, proxy, &netproxy.Options{Kerberos: k, Auth: hook}, "Negotiate")
			if len(asked) != 1 || asked[0].Scheme != "Negotiate" || !slices.Equal(asked[0].Schemes, []string{"Negotiate"}) {
				t.Fatalf("hook asked %+v", asked)
			}
		})
		t.Run("wrong password", func(t *testing.T) {
			k := &netproxy.Kerberos{Config: kdc.Conf, CCache: ""}
			t.Setenv("KRB5CCNAME", "")
			_, err := mustDialer(t, localhostURL("alice", "wrong-pw", sq), &netproxy.Options{Kerberos: k}).DialContext(ctxT(t), "tcp", "127.0.0.1:9")
			var ce *netproxy.ConnectError
			if !errors.As(err, &ce) || ce.StatusCode != 407 || !strings.Contains(err.Error(), "Negotiate: Kerberos login") || strings.Contains(err.Error(), "wrong-pw") {
				t.Fatalf("got %v", err)
			}
		})
		t.Run("not configured", func(t *testing.T) {
			checkRefused(t, localhostURL("alice", "alicepw", sq), nil, "Negotiate", false)
		})
	})
}

// checkScheme opens a wss WebSocket through the proxy and checks the
// Proxy-Authorization schemes the dialer sent.
func checkScheme(t *testing.T, url string, tc *tls.Config, proxy string, opts *netproxy.Options, want ...string) {
	t.Helper()
	var rec authRecorder
	o := netproxy.Options{}
	if opts != nil {
		o = *opts
	}
	o.Dial = rec.dial
	wssThrough(t, mustDialer(t, proxy, &o), url, tc)
	if got, _ := rec.seen(); !slices.Equal(got, want) {
		t.Fatalf("Proxy-Authorization schemes sent %v, want %v", got, want)
	}
}

// checkRefused expects a 407 ConnectError (ErrAuthRequired) naming the
// offered scheme, without the credentials; ErrAuthFailed too when the
// credentials were sent and refused (not when none could be used).
func checkRefused(t *testing.T, proxy string, opts *netproxy.Options, scheme string, refused bool) {
	t.Helper()
	_, err := mustDialer(t, proxy, opts).DialContext(ctxT(t), "tcp", "127.0.0.1:9")
	if errors.Is(err, netproxy.ErrAuthFailed) != refused {
		t.Fatalf("got %v; ErrAuthFailed should be %v", err, refused)
	}
	var ce *netproxy.ConnectError
	if !errors.Is(err, netproxy.ErrAuthRequired) || !errors.As(err, &ce) || ce.StatusCode != 407 || !slices.Contains(ce.Schemes, scheme) {
		t.Fatalf("got %v; want a 407 offering %s", err, scheme)
	}
	if !strings.Contains(ce.Reason(), "407 Proxy Authentication Required (schemes offered: ") {
		t.Fatalf("reason %q", ce.Reason())
	}
	for _, secret := range []string{"wrong-pw", "ntlm-pw", "alicepw"} {
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("credentials in the error: %v", err)
		}
	}
}

// A squid offering all four schemes gets the strongest one the dialer
// holds credentials for; Basic is not sent in clear while the proxy
// offers others, unless configured.
func TestSquidStrongestScheme(t *testing.T) {
	url, tc := wssEcho(t)
	kdc, keytab := kerberosRealm(t)
	all := squidWithKerberos(t, kdc, keytab, testpeer.SquidOptions{
		Basic:  map[string]string{"alice": "pw"},
		Digest: map[string]string{"alice": "pw"},
		NTLM:   true,
	})
	k := &netproxy.Kerberos{Config: kdc.Conf, Keytab: kdc.Keytab(t, "alice")}

	t.Run("Negotiate first", func(t *testing.T) {
		checkScheme(t, url, tc, localhostURL("alice", "pw", all), &netproxy.Options{Kerberos: k}, "Negotiate")
	})
	t.Run("NTLM without Kerberos", func(t *testing.T) {
		checkScheme(t, url, tc, localhostURL("alice", "pw", all), nil, "NTLM", "NTLM")
	})
	t.Run("Digest when restricted to Digest and Basic", func(t *testing.T) {
		checkScheme(t, url, tc, localhostURL("alice", "pw", all), &netproxy.Options{Schemes: []string{"digest", "basic"}}, "Digest")
	})
	t.Run("the hook serves NTLM", func(t *testing.T) {
		var asked []netproxy.Challenge
		hook := func(_ context.Context, c netproxy.Challenge) (string, string, error) {
			asked = append(asked, c)
			return `TESTDOM\alice`, "pw", nil
		}
		checkScheme(t, url, tc, localhostURL("", "", all), &netproxy.Options{Auth: hook}, "NTLM", "NTLM")
		if len(asked) != 1 || asked[0].Scheme != "NTLM" || !slices.Equal(asked[0].Schemes, []string{"Basic", "Digest", "NTLM", "Negotiate"}) || asked[0].Attempt != 1 {
			t.Fatalf("hook asked %+v", asked)
		}
	})

	// Basic and Negotiate only, without Kerberos: Basic would travel in
	// clear while the proxy offers better, so it is not sent...
	basicNeg := squidWithKerberos(t, kdc, keytab, testpeer.SquidOptions{Basic: map[string]string{"alice": "pw"}})
	t.Run("no Basic in clear", func(t *testing.T) {
		var rec authRecorder
		_, err := mustDialer(t, localhostURL("alice", "pw", basicNeg), &netproxy.Options{Dial: rec.dial}).DialContext(ctxT(t), "tcp", "127.0.0.1:9")
		if !errors.Is(err, netproxy.ErrAuthRequired) || !strings.Contains(err.Error(), "Basic: not sent in clear") || !strings.Contains(err.Error(), "schemes offered: Basic, Negotiate") {
			t.Fatalf("got %v", err)
		}
		if got, _ := rec.seen(); len(got) != 0 {
			t.Fatalf("sent %v", got)
		}
	})
	// ...unless Basic is configured.
	t.Run("Basic configured", func(t *testing.T) {
		checkScheme(t, url, tc, localhostURL("alice", "pw", basicNeg), &netproxy.Options{Schemes: []string{"Basic", "Negotiate"}}, "Basic")
	})
}
