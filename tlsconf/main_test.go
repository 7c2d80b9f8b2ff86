package tlsconf

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind, which
// covers the promise that no pause outlives its connection.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
