package testpeer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// Script runs the WebSocket peer scripts of one directory with their
// interpreter: Node.js with the `ws` package (tests/interop/node) or
// Debian's Python with `websockets` (tests/interop/python). The scripts'
// protocol is in tests/interop/script_test.go.
type Script struct {
	Name string   // "node" or "python"
	Path string   // the interpreter
	Args []string // interpreter arguments before the script
	Dir  string   // the scripts' directory, absolute
	Env  []string // added to the environment (KEY=value)
}

// Cmd returns the command that runs script with args in s.Dir. ctx ends
// it; after that, Wait gives up on its output after 5 s.
func (s Script) Cmd(ctx context.Context, script string, args ...string) *exec.Cmd {
	argv := append(append(slices.Clone(s.Args), script), args...)
	cmd := exec.CommandContext(ctx, s.Path, argv...)
	cmd.Dir = s.Dir
	cmd.Env = append(append(os.Environ(), "NODE_PATH="), s.Env...) // no stray global modules
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// NodeWS returns node running the scripts in dir, or skips the test (fails
// it under CI) when node or dir's node_modules/ws is missing.
func NodeWS(t testing.TB, dir string) Script {
	t.Helper()
	path := LookPath(t, "node", "Node.js (apt-get install nodejs npm)")
	dir = absDir(t, dir)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "ws", "package.json")); err != nil {
		t.Logf("node ws: %v", err)
		Missing(t, "node ws", "scripts/install-peers.sh")
	}
	return Script{Name: "node", Path: path, Dir: dir}
}

// PythonPath is Debian's Python, which has Debian's python3-websockets (a
// pyenv python3 earlier on PATH does not).
const PythonPath = "/usr/bin/python3"

// pythonWebsockets checks once per test binary that PythonPath imports
// websockets; "" means it does.
var pythonWebsockets = sync.OnceValue(func() string {
	if _, err := os.Stat(PythonPath); err != nil {
		return err.Error()
	}
	if out, err := exec.Command(PythonPath, "-c", "import websockets").CombinedOutput(); err != nil {
		return fmt.Sprintf("import websockets: %v: %s", err, out)
	}
	return ""
})

// PythonWebsockets returns PythonPath running the scripts in dir
// unbuffered, or skips the test (fails it under CI) when it or its
// websockets module is missing.
func PythonWebsockets(t testing.TB, dir string) Script {
	t.Helper()
	dir = absDir(t, dir)
	if msg := pythonWebsockets(); msg != "" {
		t.Logf("python3-websockets: %s", msg)
		Missing(t, "python3-websockets", "apt-get install python3-websockets")
	}
	return Script{Name: "python", Path: PythonPath, Args: []string{"-u"}, Dir: dir}
}

func absDir(t testing.TB, dir string) string {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// ScriptCase is one step a peer's client script runs on a connection of
// its own, sent to it as JSON (the protocol of
// tests/interop/script_test.go, which lists the operations).
type ScriptCase struct {
	ID  string `json:"id"`
	Op  string `json:"op"` // echo, frag, ping, close, await-close, await-ping
	URL string `json:"url"`
	// echo: message type ("text" or "binary") and size of the payload.
	Type string `json:"type,omitempty"`
	Size int    `json:"size"`
	// frag: text to send split into one-byte fragments.
	Text string `json:"text,omitempty"`
	// ping: payload of the client's ping.
	Payload string `json:"payload,omitempty"`
	// close: the code and reason the client closes with.
	Code   int    `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// ScriptResult is what a peer's client script reports for a ScriptCase.
type ScriptResult struct {
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

// RunScriptClient runs s's client script ("run" mode) over the cases, one
// connection each, within 60 s, and returns its results by case id. A
// failing script or a bad result line is a test error.
func RunScriptClient(t testing.TB, s Script, script string, cases []ScriptCase) map[string]ScriptResult {
	t.Helper()
	plan, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := s.Cmd(ctx, script, "run")
	cmd.Stdin = bytes.NewReader(plan)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Errorf("%s %s: %v\nstderr:\n%s", s.Name, script, err, stderr.String())
	}
	res := map[string]ScriptResult{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var r ScriptResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Errorf("%s %s: bad result line %q: %v", s.Name, script, sc.Text(), err)
			continue
		}
		res[r.ID] = r
	}
	return res
}
