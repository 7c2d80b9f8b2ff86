// Package testpeer locates the real programs (openssl, node, python3, …)
// that interop tests run against.
//
// A missing peer skips the test on a developer machine but fails it when
// CI=true, so a forgotten install step can never hide behind a skip.
package testpeer

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true).
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips the test, or fails it under CI, explaining what is missing
// and how to install it.
func Missing(t testing.TB, what, install string) {
	t.Helper()
	if InCI() {
		t.Fatalf("test peer %s is missing (CI=true, so this fails instead of skipping); install: %s", what, install)
	}
	t.Skipf("test peer %s is missing; install: %s (or run scripts/install-peers.sh)", what, install)
}

// LookPath returns the path of the named program, or skips/fails the test
// (see Missing) when it is not on PATH or at the given absolute path.
func LookPath(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name, install)
	}
	return p
}
