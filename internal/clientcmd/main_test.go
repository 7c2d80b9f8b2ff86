package clientcmd

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Nothing a test runs may land in the real state directory (the
	// known pins): tests that look at it set their own XDG_STATE_HOME.
	state, err := os.MkdirTemp("", "wssproxy-client-test-state")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_STATE_HOME", state)
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { os.RemoveAll(state) }))
}
