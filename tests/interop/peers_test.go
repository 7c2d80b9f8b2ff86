package interop

import (
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// peer is a third-party WebSocket implementation with a client and a
// server. What differs between peers is stated as data, so the tests can
// check exactly what each one does.
type peer struct {
	name string
	// startServer starts their server (a new one per call).
	startServer func(t *testing.T) *theirServer
	// runClient runs the cases with their client, returning results by id.
	runClient func(t *testing.T, cases []clientCase) map[string]clientResult
	// hold connects their client to url, exchanges one message, and
	// returns a function that drops the connection without a close frame.
	hold func(t *testing.T, url string) (kill func())

	// choosesPingPayload: their client pings with the payload asked for
	// (coder picks its own) and their server with srvPingPayload.
	choosesPingPayload bool
	// echoesCloseReason: their answer to a close frame repeats its reason
	// (gorilla's default close handler answers with the code only).
	echoesCloseReason bool
	// seesAnswerReason: their client exposes the reason of the answer to
	// its own close frame (coder's Close only checks the answer's code).
	seesAnswerReason bool
	// reportsPings: their client tells the application about pings it
	// received (websockets 10.4 answers them silently).
	reportsPings bool
}

func goRunner(run func(clientCase) clientResult) func(*testing.T, []clientCase) map[string]clientResult {
	return func(t *testing.T, cases []clientCase) map[string]clientResult {
		res := map[string]clientResult{}
		for _, c := range cases {
			res[c.ID] = run(c)
		}
		return res
	}
}

var peers = []peer{
	{
		name:               "gorilla",
		startServer:        startGorillaServer,
		runClient:          goRunner(gorillaRunCase),
		hold:               gorillaHold,
		choosesPingPayload: true,
		echoesCloseReason:  false,
		reportsPings:       true,
		seesAnswerReason:   true,
	},
	{
		name:               "coder",
		startServer:        startCoderServer,
		runClient:          goRunner(coderRunCase),
		hold:               coderHold,
		choosesPingPayload: false,
		echoesCloseReason:  true,
		reportsPings:       true,
		seesAnswerReason:   false,
	},
	scriptPeer("node", testpeer.NodeWS, "server.js", "client.js", peer{
		choosesPingPayload: true,
		echoesCloseReason:  true,
		reportsPings:       true,
		seesAnswerReason:   true,
	}),
	scriptPeer("python", testpeer.PythonWebsockets, "server.py", "client.py", peer{
		choosesPingPayload: true,
		echoesCloseReason:  true,
		reportsPings:       false,
		seesAnswerReason:   true,
	}),
}

// scriptPeer is p (its behaviour flags) run as the server and client
// scripts of a script peer whose files are in the directory name.
func scriptPeer(name string, script func(testing.TB, string) testpeer.Script, server, client string, p peer) peer {
	p.name = name
	p.startServer = func(t *testing.T) *theirServer {
		return startProcessServer(t, script(t, name), server)
	}
	p.runClient = func(t *testing.T, cases []clientCase) map[string]clientResult {
		return testpeer.RunScriptClient(t, script(t, name), client, cases)
	}
	p.hold = func(t *testing.T, url string) func() {
		return holdProcessClient(t, script(t, name), client, url)
	}
	return p
}
