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

// Context returns a context that ends after d, or at the end of the test
// (its cleanup), whichever comes first: a bound for each blocking call.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Receive returns the next value sent on ch (the zero value once ch is
// closed), and fails the test with failure, which says what did not
// happen, when nothing comes within d.
func Receive[T any](t testing.TB, ch <-chan T, d time.Duration, failure string) T {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("%s (waited %v)", failure, d)
	}
	var zero T
	return zero
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
