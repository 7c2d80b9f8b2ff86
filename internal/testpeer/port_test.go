package testpeer

import (
	"net"
	"slices"
	"strconv"
	"testing"
)

// FreePort's ports can be listened on, and on Linux come from below the
// ephemeral range, where no listener on port 0 or outgoing connection of
// another test can take them while a peer restarts.
func TestFreePort(t *testing.T) {
	lo, hi, ok := stablePorts()
	if !ok {
		t.Skip("no room below the ephemeral port range here: FreePort uses port 0")
	}
	seen := map[int]bool{}
	for range 20 {
		p := FreePort(t)
		if p < lo || p > hi {
			t.Fatalf("port %d is outside %d-%d, below the ephemeral range", p, lo, hi)
		}
		seen[p] = true
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("FreePort's %d: %v", p, err)
		}
		ln.Close()
	}
	if len(seen) < 15 {
		t.Fatalf("20 ports drawn, only %d different", len(seen))
	}
	many := FreePorts(t, 50)
	slices.Sort(many)
	if len(slices.Compact(many)) != 50 {
		t.Fatal("FreePorts gave the same port twice")
	}
	addr := FreeAddr(t)
	host, port, err := net.SplitHostPort(addr)
	if n, _ := strconv.Atoi(port); err != nil || host != "127.0.0.1" || n < lo || n > hi {
		t.Fatalf("FreeAddr: %q", addr)
	}
}
