package testpeer

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// NodeEvents collects the JSON lines (one object each) a peer script
// prints on its standard output.
type NodeEvents struct {
	mu      sync.Mutex
	partial []byte
	events  []map[string]any
}

// Write takes the script's output; lines that are not JSON objects are
// dropped.
func (e *NodeEvents) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.partial = append(e.partial, p...)
	for {
		i := bytes.IndexByte(e.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		var m map[string]any
		if err := json.Unmarshal(e.partial[:i], &m); err == nil {
			e.events = append(e.events, m)
		}
		e.partial = e.partial[i+1:]
	}
}

// Matching returns the events for which keep is true.
func (e *NodeEvents) Matching(keep func(map[string]any) bool) []map[string]any {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []map[string]any
	for _, m := range e.events {
		if keep(m) {
			out = append(out, m)
		}
	}
	return out
}

// WaitFor waits up to 10 s for an event that keep accepts and returns
// the first; what names it in the failure.
func (e *NodeEvents) WaitFor(t testing.TB, what string, keep func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := e.Matching(keep); len(m) > 0 {
			return m[0]
		}
		if time.Now().After(deadline) {
			e.mu.Lock()
			defer e.mu.Unlock()
			t.Fatalf("node peer: no %s event; events: %v", what, e.events)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// EventIs matches events by their "event" and, if not empty, "path".
func EventIs(event, path string) func(map[string]any) bool {
	return func(m map[string]any) bool {
		return m["event"] == event && (path == "" || m["path"] == path)
	}
}

// NodePeer is a running Node.js server script (see StartNodePeer).
type NodePeer struct {
	Port   string
	Events *NodeEvents
}

// URL returns scheme://127.0.0.1:PORT/path.
func (p *NodePeer) URL(scheme, path string) string {
	return scheme + "://127.0.0.1:" + p.Port + path
}

// StartNodePeer runs script (a path relative to the test's directory) with
// node and Node's ws package (tests/interop/node, installed by
// scripts/install-peers.sh), passing args. The script prints JSON lines,
// the first {"event":"listening","port":N}; the others are collected in
// Events. The peer is stopped when the test ends. A missing node or ws
// skips the test, or fails it under CI=true.
func StartNodePeer(t testing.TB, script string, args ...string) *NodePeer {
	t.Helper()
	s := NodeWS(t, interopNodeDir(t))
	script, err := filepath.Abs(script)
	if err != nil {
		t.Fatal(err)
	}
	s.Env = append(s.Env, "NODE_PATH="+filepath.Join(s.Dir, "node_modules"))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := s.Cmd(ctx, script, args...)
	ev := &NodeEvents{}
	var stderr Buffer
	cmd.Stdout, cmd.Stderr = ev, &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting node: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("node peer stderr:\n%s", stderr.String())
		}
	})
	l := ev.WaitFor(t, "listening", EventIs("listening", ""))
	port, _ := l["port"].(float64)
	return &NodePeer{Port: strconv.Itoa(int(port)), Events: ev}
}

// interopNodeDir finds tests/interop/node in the test's directory or the
// nearest one above it.
func interopNodeDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		d := filepath.Join(dir, "tests", "interop", "node")
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no tests/interop/node above the test's directory")
		}
		dir = up
	}
}
