package testpeer

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
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
// no room below it, the port comes from port 0. A peer that needs several
// ports takes them with one FreePorts.
func FreePort(t testing.TB) int {
	t.Helper()
	return FreePorts(t, 1)[0]
}

// FreePorts returns n different ports as FreePort does (ports drawn one
// by one at random could repeat: a cluster's two members then fight for
// one, which also failed CI).
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	lo, hi, ok := stablePorts()
	for tries := 0; ok && len(ports) < n && tries < 200*n; tries++ {
		p := lo + rand.IntN(hi-lo+1)
		if slices.Contains(ports, p) {
			continue
		}
		if ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			ln.Close()
			ports = append(ports, p)
		}
	}
	if len(ports) == n {
		return ports
	}
	// From port 0, holding each listener until all are drawn, so that
	// the kernel gives n different ports.
	ports = ports[:0]
	for range n {
		ln := Listen(t)
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
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
