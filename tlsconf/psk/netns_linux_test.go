package psk

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// Peers that cannot bind to 127.0.0.1 alone (gnutls-serv listens on every
// interface) run in a private network namespace that has only a loopback
// interface; the test dials into it from a goroutine locked to a thread
// that joined that namespace.

// netnsCommand returns args that run prog inside a new network namespace
// with lo up, or skips the test when namespaces are not available (no
// root or no CAP_SYS_ADMIN): that is a sandbox limit, not a missing peer.
func netnsCommand(t *testing.T, prog string, args ...string) (string, []string) {
	t.Helper()
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare(1) not available")
	}
	if err := exec.Command(unshare, "-n", "true").Run(); err != nil {
		t.Skipf("cannot create a network namespace here (needs root): %v", err)
	}
	script := `ip link set lo up && exec "$0" "$@"`
	return unshare, append([]string{"-n", "sh", "-c", script, prog}, args...)
}

// dialInNetns dials addr from inside the network namespace of process pid.
func dialInNetns(pid int, addr string) (net.Conn, error) {
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		// The thread is never unlocked: it exits with this goroutine, so
		// no other goroutine ever runs in the foreign namespace.
		runtime.LockOSThread()
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			ch <- res{nil, err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- res{nil, fmt.Errorf("setns: %w", err)}
			return
		}
		c, err := net.Dial("tcp", addr)
		ch <- res{c, err}
	}()
	r := <-ch
	return r.c, r.err
}
