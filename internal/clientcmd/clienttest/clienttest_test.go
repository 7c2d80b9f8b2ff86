package clienttest

import (
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/wssproxy/wssproxy/internal/clientcmd"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Run returns the client's status and what it wrote where: the usage on
// standard error for --help, and a usage error without a URL.
func TestRun(t *testing.T) {
	code, out, errOut := Run(t, strings.NewReader(""), "--help")
	if code != clientcmd.ExitOK || out != "" || !strings.HasPrefix(errOut, "Usage: wssproxy client URL") {
		t.Fatalf("--help: exit %d, %q, %q", code, out, errOut)
	}
	code, out, errOut = Run(t, strings.NewReader(""))
	if code != 2 || out != "" || !strings.Contains(errOut, "a ws:// or wss:// URL is required") {
		t.Fatalf("no URL: exit %d, %q, %q", code, out, errOut)
	}
}
