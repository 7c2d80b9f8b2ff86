//go:build linux

package clientcmd

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wssproxy/wssproxy/internal/testpeer/devpki"
)

// openPTY opens a pseudo-terminal pair: what the test writes to master is
// typed on slave.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Fatalf("unlocking the pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatalf("opening the pty's terminal: %v", err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

// On a terminal, --pause-on-ssl-errors asks; "y" accepts the errors shown
// and the session goes on with the next lines typed, anything else fails
// the handshake.
func TestClientPauseOnTerminal(t *testing.T) {
	pki := devpki.New(t)
	p := startNodeClientPeer(t, "--cert", pki.CertFile, "--key", pki.KeyFile)
	url := "wss://localhost:" + p.Port + "/echo"

	master, tty := openPTY(t)
	// The answer, one line typed for the session, then end of input (^D).
	if _, err := master.WriteString("y\nover the tty\n\x04"); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := clientRun(t, tty, url, "--pause-on-ssl-errors")
	if code != ExitOK || out != "over the tty\n" || !strings.Contains(errOut, "unknown-authority") || !strings.Contains(errOut, "continue and accept these errors? [y/N]") {
		t.Fatalf("yes: exit %d, %q, %q", code, out, errOut)
	}

	master, tty = openPTY(t)
	if _, err := master.WriteString("n\n"); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = clientRun(t, tty, url, "--pause-on-ssl-errors")
	if code != ExitTLS || out != "" || !strings.Contains(errOut, "aborted") {
		t.Fatalf("no: exit %d, %q, %q", code, out, errOut)
	}
}
