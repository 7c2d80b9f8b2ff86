package e2e

import (
	"net/url"
	"slices"
	"strconv"
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// upstreamLeg is how the proxy reaches the peer server: plain ws, wss
// verified with --upstream-ca, or wss trusted by its pin alone.
type upstreamLeg struct {
	name   string
	secure bool
	flags  func() []string
}

var upstreamLegs = []upstreamLeg{
	{"ws", false, func() []string { return nil }},
	{"wss-ca", true, func() []string { return []string{"--upstream-ca", env.up.CACertFile} }},
	// No CA flag: the upstream's dev CA is in no trust store, so only the
	// pin can make this leg work.
	{"wss-pin", true, func() []string { return []string{"--upstream-pin", env.up.SPKIPin, "--upstream-pin-only"} }},
}

// Close reasons; the 4000 one has multi-byte characters.
var closes = []struct {
	code   int
	reason string
}{{1000, "normal ✓"}, {1001, "going away"}, {4000, "bye ✓ from 4000 😀"}}

// fragText is sent split at every byte, so every multi-byte character
// spans several fragments (and frames, through the proxy).
const fragText = "a€😀é✓z"

// echoSizes include messages larger than the proxy's 512 KiB outgoing
// frame size, which it splits inside UTF-8 characters.
var echoSizes = []struct {
	typ  string
	size int
}{{"text", 0}, {"text", 1000}, {"binary", 125}, {"text", 600_000}, {"binary", 1<<20 + 1}}

// Every leg combination with Node's ws and Python's websockets on both
// sides of the binary: {node, python} client -> {ws, wss} -> wssproxy ->
// {ws, wss verified by CA, wss pinned} -> {node, python} server. Each
// combination runs echo (text, binary, split by the proxy), a fragmented
// text message, pings both ways, and closes 1000/1001/4000 with reasons
// from each side; the server's close events show what crossed the proxy.
func TestLegs(t *testing.T) {
	t.Parallel()
	peers := []peer{nodePeer(t), pythonPeer(t)}
	for _, sp := range peers {
		for _, ul := range upstreamLegs {
			t.Run(sp.name+"-server/"+ul.name, func(t *testing.T) {
				t.Parallel()
				srv := startPeerServer(t, sp, ul.secure)
				for _, clientLeg := range []string{"ws", "wss"} {
					args := append([]string{"--upstream", srv.url + "/"}, ul.flags()...)
					if clientLeg == "wss" {
						args = append(args, devCert()...)
					}
					px := startServe(t, args...)
					for _, cp := range peers {
						t.Run(clientLeg+"-client/"+cp.name, func(t *testing.T) {
							runLegCases(t, px, srv, cp, clientLeg+"-"+cp.name+"-")
						})
					}
				}
			})
		}
	}
}

func runLegCases(t *testing.T, px *serveProc, srv *peerServer, cp peer, prefix string) {
	at := func(path, id string, q ...string) string {
		v := url.Values{"id": {id}}
		for i := 0; i+1 < len(q); i += 2 {
			v.Set(q[i], q[i+1])
		}
		return px.url + path + "?" + v.Encode()
	}
	var cases []clientCase
	// serverSees is the close code and reason the upstream must report.
	type closeWant struct {
		code   int
		reason string
	}
	serverSees := map[string]closeWant{}
	add := func(c clientCase, want closeWant) {
		cases = append(cases, c)
		serverSees[c.ID] = want
	}
	for _, e := range echoSizes {
		id := prefix + "echo-" + e.typ + "-" + strconv.Itoa(e.size)
		add(clientCase{ID: id, Op: "echo", URL: at("echo", id), Type: e.typ, Size: e.size}, closeWant{1000, ""})
	}
	add(clientCase{ID: prefix + "frag", Op: "frag", URL: at("frag", prefix+"frag"), Text: fragText}, closeWant{1000, ""})
	add(clientCase{ID: prefix + "ping", Op: "ping", URL: at("echo", prefix+"ping"), Payload: "e2e ping ✓"}, closeWant{1000, ""})
	add(clientCase{ID: prefix + "srv-ping", Op: "await-ping", URL: at("ping", prefix+"srv-ping")}, closeWant{1000, ""})
	for _, cl := range closes {
		id := prefix + "close-" + strconv.Itoa(cl.code)
		add(clientCase{ID: id, Op: "close", URL: at("echo", id), Code: cl.code, Reason: cl.reason}, closeWant{cl.code, cl.reason})
		id = prefix + "srv-close-" + strconv.Itoa(cl.code)
		add(clientCase{ID: id, Op: "await-close", URL: at("close", id, "code", strconv.Itoa(cl.code), "reason", cl.reason)}, closeWant{cl.code, cl.reason})
	}

	res := runPeerClient(t, cp, cases)
	for _, c := range cases {
		r, ok := res[c.ID]
		switch {
		case !ok:
			t.Errorf("%s: no result", c.ID)
			continue
		case r.Error != "":
			t.Errorf("%s: %s", c.ID, r.Error)
			continue
		}
		wantCode, wantReason := 1000, ""
		switch c.Op {
		case "echo":
			var want []byte
			if c.Type == "text" {
				want = testpeer.TextPayload(c.Size)
			} else {
				want = testpeer.BinaryPayload(c.Size)
			}
			if r.Type != c.Type || r.Len != len(want) || r.SHA256 != sha(want) {
				t.Errorf("%s: echo came back as %s of %d bytes (sha256 %s), want %s of %d", c.ID, r.Type, r.Len, r.SHA256, c.Type, len(want))
			}
		case "frag":
			if r.Type != "text" || r.Text != fragText {
				t.Errorf("%s: fragmented echo %s %q, want text %q", c.ID, r.Type, r.Text, fragText)
			}
		case "ping":
			if r.Pong != c.Payload {
				t.Errorf("%s: pong %q, want %q", c.ID, r.Pong, c.Payload)
			}
		case "await-ping":
			if r.Text != "pong:srv-ping" {
				t.Errorf("%s: the server saw no pong for its ping: got %q", c.ID, r.Text)
			}
			if cp.name == "node" && !slices.Equal(r.Pings, []string{"srv-ping"}) {
				t.Errorf("%s: client saw pings %q, want [srv-ping]", c.ID, r.Pings)
			}
		case "close", "await-close":
			wantCode, wantReason = serverSees[c.ID].code, serverSees[c.ID].reason
		}
		if r.Code != wantCode || r.Reason != wantReason {
			t.Errorf("%s: client saw close %d %q, want %d %q", c.ID, r.Code, r.Reason, wantCode, wantReason)
		}
	}
	for _, c := range cases {
		e := srv.waitEvent(t, c.ID, "close")
		if w := serverSees[c.ID]; e.Code != w.code || e.Reason != w.reason {
			t.Errorf("%s: upstream saw close %d %q, want %d %q", c.ID, e.Code, e.Reason, w.code, w.reason)
		}
	}
}
