// Package clienttest runs "wssproxy client" in-process for the tests of
// the packages that drive it as a peer (cmd/wssproxy, servecmd).
// clientcmd's own tests keep their copy: they cannot import a package
// that imports clientcmd.
package clienttest

import (
	"context"
	"io"
	"testing"

	"github.com/wssproxy/wssproxy/internal/clientcmd"
	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// Run runs the client with args, direct (no proxy from the environment),
// reading stdin, and returns its exit status, output and errors.
func Run(t testing.TB, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return testpeer.RunCommand(t, func(ctx context.Context, stdout, stderr io.Writer) int {
		return clientcmd.Run(ctx, append(args, "--proxy", "direct"), stdin, stdout, stderr)
	})
}
