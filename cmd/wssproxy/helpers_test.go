package main

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/cli"
	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// runCmd runs the CLI in-process and returns exit code, stdout, stderr.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return testpeer.RunCommand(t, run, args...)
}

// mustLeaf is the first certificate of a PEM file.
func mustLeaf(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	return testpeer.ReadLeaf(t, file)
}

// pinLinesListen is the listen address of the serve lines "certs pin"
// prints.
const pinLinesListen = cli.PinLinesListen

// writeConfig writes a YAML file of lines (see y) as name in dir and
// returns its path.
func writeConfig(t *testing.T, dir, name string, lines ...string) string {
	t.Helper()
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, []byte(y(lines...)), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// serveProc is "wssproxy serve" run in-process by a test.
type serveProc struct {
	lines lineWriter       // its standard output, a line at a time
	logs  *testpeer.Buffer // its standard error
	done  chan int         // its exit code
}

// spawnServe runs "wssproxy serve ARGS..." until ctx ends.
func spawnServe(ctx context.Context, args ...string) *serveProc {
	p := &serveProc{lines: lineWriter{make(chan string, 50)}, logs: &testpeer.Buffer{}, done: make(chan int, 1)}
	go func() { p.done <- run(ctx, append([]string{"serve"}, args...), p.lines, p.logs) }()
	return p
}

// line returns serve's next line of output; serve exiting first, or
// printing nothing for d, fails t.
func (p *serveProc) line(t *testing.T, d time.Duration) string {
	t.Helper()
	select {
	case l := <-p.lines.lines:
		return l
	case code := <-p.done:
		t.Fatalf("serve exited %d: %s", code, p.logs.String())
	case <-time.After(d):
		t.Fatalf("serve printed nothing more for %v; stderr: %s", d, p.logs.String())
	}
	return ""
}

// servingURL is the URL of a "wssproxy: serving URL …" banner line.
func servingURL(l string) (string, bool) {
	if !strings.HasPrefix(l, "wssproxy: serving ") {
		return "", false
	}
	return strings.Fields(l)[2], true
}
