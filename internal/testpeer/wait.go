package testpeer

import (
	"context"
	"io"
	"testing"
	"time"
)

// WaitFor polls cond every 5 ms until it holds, and fails the test,
// naming what it waited for, when d passes first.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// RunCommand runs a command's entry point in-process with a 30 s context
// and returns its exit status and what it wrote to stdout and stderr.
func RunCommand(t testing.TB, run func(ctx context.Context, stdout, stderr io.Writer) int) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb Buffer
	code = run(ctx, &out, &errb)
	return code, out.String(), errb.String()
}
