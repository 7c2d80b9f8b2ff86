package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// peer is a WebSocket implementation whose client and server scripts live
// in tests/interop (see the headers of those scripts for their protocol).
type peer struct {
	name string // "node" or "python"
	path string // interpreter
	args []string
	dir  string
}

func (p peer) cmd(ctx context.Context, script string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, p.path, append(append(append([]string{}, p.args...), script), args...)...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(),
		"NODE_PATH=", // no stray global modules
		// wss to the proxy: trust its dev CA (Node adds it to its roots,
		// Python's default context loads it instead of the system store).
		"NODE_EXTRA_CA_CERTS="+env.dev.CACertFile,
		"SSL_CERT_FILE="+env.dev.CACertFile,
	)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

var (
	nodeOnce   sync.Once
	nodeErr    string
	pythonOnce sync.Once
	pythonErr  string
)

// nodePeer is Node.js with the `ws` package of tests/interop/node.
func nodePeer(t *testing.T) peer {
	t.Helper()
	path := testpeer.LookPath(t, "node", "Node.js (apt-get install nodejs npm)")
	dir, err := filepath.Abs(filepath.Join("..", "interop", "node"))
	if err != nil {
		t.Fatal(err)
	}
	nodeOnce.Do(func() {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "ws", "package.json")); err != nil {
			nodeErr = err.Error()
		}
	})
	if nodeErr != "" {
		t.Logf("node ws: %s", nodeErr)
		testpeer.Missing(t, "node ws", "scripts/install-peers.sh")
	}
	return peer{name: "node", path: path, dir: dir}
}

// pythonPath is Debian's Python, which has Debian's python3-websockets.
const pythonPath = "/usr/bin/python3"

// pythonPeer is /usr/bin/python3 with websockets, running the scripts of
// tests/interop/python.
func pythonPeer(t *testing.T) peer {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "interop", "python"))
	if err != nil {
		t.Fatal(err)
	}
	pythonOnce.Do(func() {
		out, err := exec.Command(pythonPath, "-c", "import websockets").CombinedOutput()
		if err != nil {
			pythonErr = fmt.Sprintf("import websockets: %v: %s", err, out)
		}
	})
	if pythonErr != "" {
		t.Logf("python3-websockets: %s", pythonErr)
		testpeer.Missing(t, "python3-websockets", "apt-get install python3-websockets")
	}
	return peer{name: "python", path: pythonPath, args: []string{"-u"}, dir: dir}
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
	pr := startProc(t, p.name+" server", p.cmd(context.Background(), p.serverScript(), args...))
	e := pr.waitEvent(t, "", "listening")
	return &peerServer{proc: pr, url: scheme + "://127.0.0.1:" + strconv.Itoa(e.Port)}
}

// clientCase is one step a peer's client runs on a connection of its own
// (the protocol of tests/interop/script_test.go).
type clientCase struct {
	ID      string `json:"id"`
	Op      string `json:"op"` // echo, frag, ping, close, await-close, await-ping
	URL     string `json:"url"`
	Type    string `json:"type,omitempty"`
	Size    int    `json:"size"`
	Text    string `json:"text,omitempty"`
	Payload string `json:"payload,omitempty"`
	Code    int    `json:"code,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// clientResult is what a peer's client reports for a clientCase.
type clientResult struct {
	ID     string   `json:"id"`
	Error  string   `json:"error,omitempty"`
	Type   string   `json:"type,omitempty"`
	Len    int      `json:"len"`
	SHA256 string   `json:"sha256,omitempty"`
	Text   string   `json:"text,omitempty"`
	Pong   string   `json:"pong,omitempty"`
	Pings  []string `json:"pings,omitempty"`
	Code   int      `json:"code"`
	Reason string   `json:"reason"`
}

// runPeerClient runs p's client over the cases (one connection each) and
// returns its results by case id.
func runPeerClient(t *testing.T, p peer, cases []clientCase) map[string]clientResult {
	t.Helper()
	plan, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := p.cmd(ctx, p.clientScript(), "run")
	cmd.Stdin = bytes.NewReader(plan)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Errorf("%s client: %v\nstderr:\n%s", p.name, err, stderr.String())
	}
	res := map[string]clientResult{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r clientResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Errorf("%s client: bad result line %q: %v", p.name, sc.Text(), err)
			continue
		}
		res[r.ID] = r
	}
	return res
}

// holdPeerClient starts p's client holding one connection to url, and
// returns once it exchanged a message. It prints a "close" event if the
// connection is closed; kill() ends it without a close frame.
func holdPeerClient(t *testing.T, p peer, url string) *proc {
	t.Helper()
	pr := startProc(t, p.name+" hold client", p.cmd(context.Background(), p.clientScript(), "hold", url))
	pr.waitLine(t, "ready", func(l string) bool { return strings.Contains(l, `"ready"`) })
	return pr
}

// The payloads every peer generates the same way (copies of
// tests/interop/payload_test.go): text of exactly size bytes of 1- to
// 4-byte characters, binary counting modulo 251.
func textPayload(size int) []byte {
	const unit = "aé€😀"
	return []byte(strings.Repeat(unit, size/len(unit)) + strings.Repeat("x", size%len(unit)))
}

func binaryPayload(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

func sha(p []byte) string {
	s := sha256.Sum256(p)
	return hex.EncodeToString(s[:])
}
