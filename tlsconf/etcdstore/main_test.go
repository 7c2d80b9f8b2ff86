package etcdstore

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: Close
// must stop the watch, the retries and the etcd client.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
