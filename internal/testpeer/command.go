package testpeer

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"
)

// RunFunc is a command run in-process: its arguments, its standard
// output and error, and the exit code it returns.
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) int

// RunCommand runs run with args under a 30-second context and returns its
// exit code, standard output and standard error.
func RunCommand(t testing.TB, run RunFunc, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code = run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}
