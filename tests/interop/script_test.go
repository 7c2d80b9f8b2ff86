package interop

import "github.com/wssproxy/wssproxy/internal/testpeer"

// clientCase is one scripted step that a peer's client runs against our
// server, on a connection of its own. The same JSON goes to the Node and
// Python clients (testpeer.RunScriptClient); the Go peers implement it in
// gorilla_test.go and coder_test.go.
type clientCase = testpeer.ScriptCase

// Operations of a clientCase. Unless stated otherwise the client closes
// with 1000 at the end and reports the close code and reason it got back.
const (
	// opEcho sends a generated payload and reports the echo's type, length
	// and SHA-256.
	opEcho = "echo"
	// opFrag sends Text as a text message in one-byte fragments and reports
	// the echoed text (which our server sends in one-byte fragments too).
	opFrag = "frag"
	// opPing pings with Payload and reports the pong's payload.
	opPing = "ping"
	// opClose closes with Code and Reason and reports the echoed close.
	opClose = "close"
	// opAwaitClose sends "close me" and reports the server's close.
	opAwaitClose = "await-close"
	// opAwaitPing sends "ping me", reads one message ("pinged", sent by
	// our server once it saw the pong) and reports it with the payloads
	// of the pings it saw (where the peer exposes them).
	opAwaitPing = "await-ping"
)

// clientResult is what a peer's client reports for a clientCase.
type clientResult = testpeer.ScriptResult

// failed is res ending with err.
func failed(res clientResult, err error) clientResult {
	res.Error = err.Error()
	return res
}

// messageTypeName is a message type as the cases' results name it.
func messageTypeName(binary bool) string {
	if binary {
		return "binary"
	}
	return "text"
}

// serverEvent is what a peer's server reports (Node and Python print them
// as JSON lines on stdout): "listening" with the port, then per connection
// "close" with the code and reason the server received (1006 when none),
// and "error".
type serverEvent struct {
	Event  string `json:"event"`
	ID     string `json:"id,omitempty"`
	Port   int    `json:"port,omitempty"`
	Code   int    `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Their servers' paths (query: id, and code/reason for /close):
//
//	/echo   echo every message with its type
//	/frag   echo every message in one-byte fragments
//	/close  on the first message, close with code and reason
//	/ping   on the first message, ping with "srv-ping"; on the pong, send
//	        "pong:" + its payload
const srvPingPayload = "srv-ping"
