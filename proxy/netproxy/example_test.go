package netproxy_test

import (
	"context"
	"fmt"
	"log"

	"github.com/wssproxy/wssproxy/proxy/netproxy"
	"github.com/wssproxy/wssproxy/ws"
)

// A wss connection through an HTTP CONNECT proxy: the proxy only sees an
// opaque TLS tunnel, so it cannot break the WebSocket handshake.
func ExampleNew() {
	ctx := context.Background()
	u, err := netproxy.ParseURL("http://proxy.example:3128")
	if err != nil {
		log.Fatal(err)
	}
	d, err := netproxy.New(u, &netproxy.Options{
		// Asked when the proxy answers 407 (like Qt's
		// proxyAuthenticationRequired); at most 3 times per dial.
		Auth: func(ctx context.Context, c netproxy.Challenge) (string, string, error) {
			return "alice", "secret", nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	conn, _, err := ws.Dial(ctx, "wss://ws.example.com/chat", &ws.DialOptions{NetDial: d.DialContext})
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close(ws.StatusNormalClosure, "")
}

// The environment's proxy for wss, honouring HTTPS_PROXY, ALL_PROXY and
// NO_PROXY.
func ExampleFromEnvironment() {
	dial, err := netproxy.FromEnvironment("wss", nil)
	if err != nil {
		log.Fatal(err) // e.g. HTTPS_PROXY=ftp://… is refused, not ignored
	}
	_ = &ws.DialOptions{NetDial: dial}
}

func ExampleEnvironment_ProxyFor() {
	env := netproxy.Environment{
		HTTPSProxy: "http://user:pw@proxy.example:3128",
		AllProxy:   "socks5h://socks.example:1080",
		NoProxy:    ".corp.example,10.0.0.0/8",
	}
	for _, t := range []struct{ scheme, addr string }{
		{"wss", "ws.example.com:443"},
		{"ws", "ws.example.com:80"},
		{"wss", "chat.corp.example:443"},
		{"wss", "10.1.2.3:443"},
		{"wss", "localhost:8443"},
	} {
		u, _ := env.ProxyFor(t.scheme, t.addr)
		fmt.Printf("%s %s -> %q\n", t.scheme, t.addr, netproxy.Redact(u))
	}
	// Output:
	// wss ws.example.com:443 -> "http://proxy.example:3128"
	// ws ws.example.com:80 -> "socks5h://socks.example:1080"
	// wss chat.corp.example:443 -> ""
	// wss 10.1.2.3:443 -> ""
	// wss localhost:8443 -> ""
}

// Negotiate (Kerberos) towards a corporate proxy, with a keytab and its
// own krb5.conf; a proxy offering Negotiate and NTLM gets Negotiate, and
// falls back to NTLM with the URL's DOMAIN\user:pass when Kerberos fails.
func ExampleKerberos() {
	u, err := netproxy.ParseURL(`http://CORP%5Calice:secret@proxy.corp.example:3128`)
	if err != nil {
		log.Fatal(err)
	}
	d, err := netproxy.New(u, &netproxy.Options{
		Kerberos: &netproxy.Kerberos{
			Config:    "/etc/wssproxy/krb5.conf",
			Keytab:    "/etc/wssproxy/alice.keytab",
			Principal: "alice@CORP.EXAMPLE",
			// SPN defaults to HTTP/proxy.corp.example.
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = d.DialContext // ws.DialOptions{NetDial: d.DialContext}
}

// A refusal names the proxy's status and the schemes it offered, without
// credentials: what wssproxy serve tells its client with 502.
func ExampleConnectError_Reason() {
	err := &netproxy.ConnectError{
		Proxy: "http://proxy.corp:3128", Target: "ws.example.com:443",
		StatusCode: 407, Status: "HTTP/1.1 407 Proxy Authentication Required",
		Schemes: []string{"NTLM", "Negotiate"},
	}
	fmt.Println("upstream proxy refused: " + err.Reason())
	// Output: upstream proxy refused: 407 Proxy Authentication Required (schemes offered: NTLM, Negotiate)
}
