package main

import (
	"path/filepath"
	"testing"

	"github.com/wssproxy/wssproxy/internal/clientcmd"
	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// exitClientOK is the client's success status, for the tests here that
// run it with the lines certs prints (its own tests are in
// internal/clientcmd, serve's with the client in internal/servecmd).
const exitClientOK = clientcmd.ExitOK

// startNodeClientPeer starts the client's Node peer
// (internal/clientcmd/testdata/client_peer.js); args may be --cert F
// --key F for wss.
func startNodeClientPeer(t *testing.T, args ...string) *testpeer.NodePeer {
	t.Helper()
	return testpeer.StartNodePeer(t, filepath.Join("..", "..", "internal", "clientcmd", "testdata", "client_peer.js"), args...)
}
