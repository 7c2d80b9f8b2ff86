package testpeer

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// FreeAddr returns a 127.0.0.1:PORT address free now, for a program that
// wants an address to listen on rather than a listener (see FreePort).
func FreeAddr(t testing.TB) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(FreePort(t))
}

// FreePort returns a TCP port of 127.0.0.1 free now, for a peer that
// binds it itself, maybe again after a restart (an etcd member keeps its
// ports). It is drawn below the kernel's ephemeral range
// (ip_local_port_range), from which listeners on port 0 and outgoing
// connections take theirs, so that no other test takes it in the
// meantime: an etcd member restarted on a port that a Go TLS server of
// another package had got from port 0 failed CI. Where that range leaves
// no room below it, the port comes from port 0.
func FreePort(t testing.TB) int {
	t.Helper()
	if lo, hi, ok := stablePorts(); ok {
		for range 200 {
			p := lo + rand.IntN(hi-lo+1)
			if ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
				ln.Close()
				return p
			}
		}
	}
	ln := Listen(t)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// stablePorts returns the ports FreePort draws from: from 10000 to just
// below the ephemeral range, when there are at least 1000.
func stablePorts() (lo, hi int, ok bool) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0, false
	}
	start, err := strconv.Atoi(f[0])
	if err != nil || start-1 < 11000 {
		return 0, 0, false
	}
	return 10000, start - 1, true
}
