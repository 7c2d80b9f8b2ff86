package conformance

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a goroutine outlives the tests: every
// server connection must end when its case ends.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
