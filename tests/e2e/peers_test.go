package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// peer is a WebSocket implementation whose client and server scripts live
// in tests/interop (see the headers of those scripts for their protocol),
// run with the proxies' dev CA trusted for wss.
type peer struct {
	testpeer.Script
	name string // "node" or "python"
}

// trusting adds the proxies' dev CA to s's trust: Node adds it to its
// roots, Python's default context loads it instead of the system store.
func trusting(s testpeer.Script) peer {
	s.Env = append(s.Env, "NODE_EXTRA_CA_CERTS="+env.dev.CACertFile, "SSL_CERT_FILE="+env.dev.CACertFile)
	return peer{Script: s, name: s.Name}
}

// nodePeer is Node.js with the `ws` package of tests/interop/node.
func nodePeer(t *testing.T) peer {
	return trusting(testpeer.NodeWS(t, filepath.Join("..", "interop", "node")))
}

// pythonPeer is /usr/bin/python3 with websockets, running the scripts of
// tests/interop/python.
func pythonPeer(t *testing.T) peer {
	return trusting(testpeer.PythonWebsockets(t, filepath.Join("..", "interop", "python")))
}

func (p peer) serverScript() string {
	if p.name == "node" {
		return "server.js"
	}
	return "server.py"
}

func (p peer) clientScript() string {
	if p.name == "node" {
		return "client.js"
	}
	return "client.py"
}

// peerServer is a running peer echo server (a proxy's upstream).
type peerServer struct {
	*proc
	url string // ws://127.0.0.1:PORT or wss://…, no trailing slash
}

// startPeerServer starts p's echo server, with the upstream dev CA's leaf
// (wss) when secure.
func startPeerServer(t *testing.T, p peer, secure bool) *peerServer {
	t.Helper()
	var args []string
	scheme := "ws"
	if secure {
		args = []string{"--cert", env.up.CertFile, "--key", env.up.KeyFile}
		scheme = "wss"
	}
	pr := startProc(t, p.name+" server", p.Cmd(context.Background(), p.serverScript(), args...))
	e := pr.waitEvent(t, "", "listening")
	return &peerServer{proc: pr, url: scheme + "://127.0.0.1:" + strconv.Itoa(e.Port)}
}

// clientCase is one step a peer's client runs on a connection of its own
// (the protocol of tests/interop/script_test.go), and clientResult what it
// reports.
type (
	clientCase   = testpeer.ScriptCase
	clientResult = testpeer.ScriptResult
)

// runPeerClient runs p's client over the cases (one connection each) and
// returns its results by case id.
func runPeerClient(t *testing.T, p peer, cases []clientCase) map[string]clientResult {
	t.Helper()
	return testpeer.RunScriptClient(t, p.Script, p.clientScript(), cases)
}

// holdPeerClient starts p's client holding one connection to url, and
// returns once it exchanged a message. It prints a "close" event if the
// connection is closed; kill() ends it without a close frame.
func holdPeerClient(t *testing.T, p peer, url string) *proc {
	t.Helper()
	pr := startProc(t, p.name+" hold client", p.Cmd(context.Background(), p.clientScript(), "hold", url))
	pr.waitLine(t, "ready", func(l string) bool { return strings.Contains(l, `"ready"`) })
	return pr
}

func sha(p []byte) string {
	s := sha256.Sum256(p)
	return hex.EncodeToString(s[:])
}
