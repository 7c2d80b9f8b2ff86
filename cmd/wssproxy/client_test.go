package main

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/wssproxy/wssproxy/internal/clientcmd"
	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// exitClientOK is the client's success status, for the tests here that
// run it with the lines certs prints (its own tests are in
// internal/clientcmd, serve's with the client in internal/servecmd).
const exitClientOK = clientcmd.ExitOK

// runClient runs "wssproxy client" with args (after the command's name).
func runClient(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return clientcmd.Run(ctx, args, stdin, stdout, stderr)
}

// clientRun runs the client with args, direct (no proxy from the
// environment), and returns its exit status and output.
func clientRun(t *testing.T, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	return testpeer.RunCommand(t, func(ctx context.Context, stdout, stderr io.Writer) int {
		return runClient(ctx, append(args, "--proxy", "direct"), stdin, stdout, stderr)
	})
}

// startNodeClientPeer starts the client's Node peer
// (internal/clientcmd/testdata/client_peer.js); args may be --cert F
// --key F for wss.
func startNodeClientPeer(t *testing.T, args ...string) *testpeer.NodePeer {
	t.Helper()
	return testpeer.StartNodePeer(t, filepath.Join("..", "..", "internal", "clientcmd", "testdata", "client_peer.js"), args...)
}
