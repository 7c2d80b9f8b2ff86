package main

import (
	"context"
	"io"
	"testing"

	"github.com/wssproxy/wssproxy/internal/cli"
	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// runCmd runs the CLI in-process and returns exit code, stdout, stderr.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return testpeer.RunCommand(t, func(ctx context.Context, stdout, stderr io.Writer) int {
		return run(ctx, args, stdout, stderr)
	})
}

// pinLinesListen is the listen address of the serve lines "certs pin"
// prints.
const pinLinesListen = cli.PinLinesListen

// startServe runs "wssproxy serve args…" in-process on a free port and
// returns its address, stopping it (and checking it exits 0) at the end
// of the test.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	lines, logs, done := testpeer.NewLines(50), &testpeer.Buffer{}, make(chan int, 1)
	args = append([]string{"serve", "--listen", "127.0.0.1:0", "--log-level", "error"}, args...)
	go func() { done <- run(ctx, args, lines, logs) }()
	addr := testpeer.AwaitServing(t, lines.C, done, logs)
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exit %d", code)
		}
	})
	return addr
}
