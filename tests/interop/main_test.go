// Package interop runs package ws against real third-party WebSocket
// implementations in both directions: their client against our server
// (ws.Accept, ws/echo) and our client (ws.Dial) against their server.
//
// Peers: gorilla/websocket and coder/websocket (in process), Node's `ws`
// package (tests/interop/node, pinned in package-lock.json) and Python's
// `websockets` from Debian (tests/interop/python, run with
// /usr/bin/python3), both started as child processes on 127.0.0.1.
// Missing peers skip the tests locally and fail them under CI=true; install
// them with scripts/install-peers.sh.
package interop

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
