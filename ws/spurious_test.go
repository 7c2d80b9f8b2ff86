package ws

import (
	"syscall"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// spuriousRawConn is a socket whose readiness waits report one readiness
// with nothing to read, as the runtime's poller does when it harvests an
// edge event late, after the bytes that raised it were already read (the
// proxy's parking tests hit it under load).
type spuriousRawConn struct{ syscall.RawConn }

func (s spuriousRawConn) Read(f func(fd uintptr) bool) error {
	return s.RawConn.Read(func(fd uintptr) bool {
		if f(fd) {
			return true
		}
		return f(fd) // "woken", with nothing arrived
	})
}

// NextFrameWithin keeps its idle limit across a spurious wake: it returns
// ErrIdle, without a read buffer, instead of waiting for the next frame
// with a buffer and no limit (a relay direction that then never parked).
func TestNextFrameWithinSpuriousWake(t *testing.T) {
	t.Parallel()
	nc, peer := testpeer.TCPPair(t)
	defer peer.Close()
	c := newConn(nc, nil, false, false, nil)
	c.open()
	t.Cleanup(c.Abort)
	if c.sock == nil {
		t.Fatal("no socket under a TCP connection")
	}
	c.sock = spuriousRawConn{c.sock}
	ctx := testpeer.Context(t, 20*time.Second)
	for round := range 3 {
		done := make(chan error, 1)
		go func() {
			_, _, err := c.NextFrameWithin(ctx, 50*time.Millisecond)
			done <- err
		}()
		if err := testpeer.Receive(t, done, 5*time.Second, "NextFrameWithin went past its idle limit after a spurious wake"); err != ErrIdle {
			t.Fatalf("round %d: %v, want ErrIdle", round, err)
		}
		if c.br != nil {
			t.Fatalf("round %d: ErrIdle with a read buffer attached", round)
		}
	}
	// A frame that does arrive is read as before.
	if _, err := peer.Write([]byte{0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2}); err != nil {
		t.Fatal(err)
	}
	h, r, err := c.NextFrameWithin(ctx, 5*time.Second)
	if err != nil || h.OpCode != OpText || h.Length != 2 {
		t.Fatalf("frame after the idle rounds: %+v %v", h, err)
	}
	var p [2]byte
	if n, err := r.Read(p[:]); string(p[:n]) != "hi" {
		t.Fatalf("payload %q %v", p[:n], err)
	}
}
