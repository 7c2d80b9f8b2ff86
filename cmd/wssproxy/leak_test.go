package main

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Nothing a test runs may land in the real state directory (serve's
	// trust store, the client's known pins, the dev CA): tests that look
	// at it set their own XDG_STATE_HOME.
	state, err := os.MkdirTemp("", "wssproxy-test-state")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_STATE_HOME", state)
	goleak.VerifyTestMain(m,
		// certmagic's per-directory rate limiter loop is never stopped
		// (see certs' TestMain), and its lock keeper outlives a released
		// lock by up to 5 s.
		goleak.IgnoreAnyFunction("github.com/caddyserver/certmagic.(*RingBufferRateLimiter).loop"),
		goleak.IgnoreAnyFunction("github.com/caddyserver/certmagic.keepLockfileFresh"),
		goleak.Cleanup(func(int) { os.RemoveAll(state) }),
	)
}
