package main

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

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

// startEchoCmd runs "wssproxy echo --listen 127.0.0.1:0 --log-level warn
// --grace 2s ARGS..." in-process until ctx ends, and returns the URL it
// prints first and its exit code's channel.
func startEchoCmd(ctx context.Context, t *testing.T, args ...string) (string, <-chan int) {
	t.Helper()
	stdout := testpeer.NewLines(10)
	done := make(chan int, 1)
	args = append([]string{"echo", "--listen", "127.0.0.1:0", "--log-level", "warn", "--grace", "2s"}, args...)
	go func() { done <- run(ctx, args, stdout, &bytes.Buffer{}) }()
	select {
	case url := <-stdout.C:
		return url, done
	case <-time.After(10 * time.Second):
		t.Fatal("no URL printed")
	}
	return "", done
}
