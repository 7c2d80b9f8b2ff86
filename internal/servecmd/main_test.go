package servecmd

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

func TestMain(m *testing.M) {
	// serve's trust store, the client's known pins and the dev CA go to
	// a temporary state directory.
	testpeer.VerifyMainTempState(m, "wssproxy-test-state",
		// certmagic's per-directory rate limiter loop is never stopped
		// (see certs' TestMain), and its lock keeper outlives a released
		// lock by up to 5 s.
		goleak.IgnoreAnyFunction("github.com/caddyserver/certmagic.(*RingBufferRateLimiter).loop"),
		goleak.IgnoreAnyFunction("github.com/caddyserver/certmagic.keepLockfileFresh"),
	)
}
