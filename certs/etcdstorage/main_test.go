package etcdstorage

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// certmagic keeps one rate limiter per ACME directory and account
		// in a package-level map for the life of the process; its loop
		// goroutine is never stopped (certmagic ratelimiter.go TODO).
		goleak.IgnoreAnyFunction("github.com/caddyserver/certmagic.(*RingBufferRateLimiter).loop"),
	)
}
