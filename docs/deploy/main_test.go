// Package deploy_test checks the deployment files of this folder: the
// systemd unit (systemd-analyze), the container build's static build
// command (run as written) and the Kubernetes sidecar example (parsed,
// and its wssproxy configuration served by the real binary).
package deploy_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "deploy: goroutines leaked: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
