package testpeer

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// VerifyMainTempState is a TestMain body for packages whose code writes
// to the state directory (trust stores, known pins, the dev CA): it sets
// XDG_STATE_HOME to a fresh temporary directory, so that nothing a test
// runs lands in the real one (tests that look at it set their own), runs
// the tests with goleak's check (opts add to it), removes the directory
// and exits.
func VerifyMainTempState(m *testing.M, prefix string, opts ...goleak.Option) {
	state, err := os.MkdirTemp("", prefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_STATE_HOME", state)
	goleak.VerifyTestMain(m, append(opts, goleak.Cleanup(func(int) { os.RemoveAll(state) }))...)
}
