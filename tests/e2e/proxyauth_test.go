package e2e

import (
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// nodeOneShot is a Node `ws` client run once against url: it sends one
// message and prints {"echo": …} on the echo, or {"status": N, "body": …}
// when the handshake is refused.
const nodeOneShot = `
const WebSocket = require('ws');
const ws = new WebSocket(process.argv[1]);
const out = (o) => { console.log(JSON.stringify(o)); };
ws.on('unexpected-response', (req, res) => {
  let body = '';
  res.on('data', (d) => { body += d; });
  res.on('end', () => { out({ status: res.statusCode, body }); process.exit(0); });
});
ws.on('open', () => ws.send('through squid'));
ws.on('message', (m) => { out({ echo: m.toString() }); ws.close(1000); });
ws.on('close', () => process.exit(0));
ws.on('error', (e) => { out({ error: e.message }); process.exit(1); });
`

type nodeResult struct {
	Echo   string `json:"echo"`
	Status int    `json:"status"`
	Body   string `json:"body"`
	Error  string `json:"error"`
}

func runNodeOnce(t *testing.T, url string) nodeResult {
	t.Helper()
	p := nodePeer(t)
	out, err := p.Cmd(testpeer.Context(t, waitTimeout), "-e", nodeOneShot, url).Output()
	var r nodeResult
	if jerr := json.Unmarshal(out, &r); jerr != nil {
		t.Fatalf("node client: %v %v: %s", err, jerr, out)
	}
	return r
}

// The corporate-proxy use, all real: a Node ws client talks plain ws to
// "wssproxy serve", which reaches a Node wss upstream through squid. A
// squid offering Basic, Digest, NTLM and Negotiate gets Negotiate from a
// serve that has a Kerberos ticket (KRB5CCNAME from kinit, against an MIT
// KDC); wrong credentials give the Node client a 502 whose reason names
// the proxy's 407 and the schemes it offered.
func TestNodeThroughAuthenticatingSquid(t *testing.T) {
	upstream := startPeerServer(t, nodePeer(t), true)
	kdc := testpeer.StartKDC(t)
	kdc.AddUser(t, "alice", "alicepw")
	sq := testpeer.StartSquid(t, testpeer.SquidOptions{
		Basic:           map[string]string{"alice": "s3cret"},
		Digest:          map[string]string{"alice": "s3cret"},
		NTLM:            true,
		KDC:             kdc,
		NegotiateKeytab: kdc.AddService(t, "HTTP/localhost"),
		NegotiateSPN:    "HTTP/localhost@" + kdc.Realm,
		// ntlm_fake_auth accepts any password: only the Kerberos user
		// gets through.
		Users: []string{"alice@" + kdc.Realm},
	})
	_, port, _ := net.SplitHostPort(sq.Addr)
	serveVia := func(proxy string) *serveProc {
		return startServe(t, "--upstream", upstream.url+"/", "--upstream-ca", env.up.CACertFile, "--upstream-proxy", proxy)
	}

	t.Run("wrong credentials", func(t *testing.T) {
		s := serveVia("http://alice:wrong-pw@127.0.0.1:" + port)
		r := runNodeOnce(t, s.url)
		want := "upstream proxy refused: 407 Proxy Authentication Required (schemes offered: Basic, Digest, NTLM, Negotiate)"
		if r.Status != 502 || strings.TrimSpace(r.Body) != want {
			t.Fatalf("node client got %+v, want 502 %q", r, want)
		}
		s.waitStderr(t, "upstream failed: answered 502")
		if strings.Contains(strings.Join(s.output(), "\n")+s.stderr.String(), "wrong-pw") {
			t.Fatal("the password was logged")
		}
	})
	t.Run("Kerberos", func(t *testing.T) {
		t.Setenv("KRB5_CONFIG", kdc.Conf)
		t.Setenv("KRB5CCNAME", "FILE:"+kdc.Kinit(t, "alice", "alicepw"))
		s := serveVia("http://localhost:" + port)
		if r := runNodeOnce(t, s.url); r.Echo != "through squid" {
			t.Fatalf("node client got %+v", r)
		}
		if log := sq.AccessLog(); !strings.Contains(log, "alice@"+kdc.Realm+" CONNECT ") {
			t.Fatalf("squid did not see the Kerberos user:\n%s", log)
		}
	})
}
