package proxy

import (
	"context"
	"io"
	"runtime"
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/ws"
)

// A 1 GiB message crosses the proxy in bounded memory (client, proxy and
// upstream all run in this process, so the bound covers all three).
func TestHeavyOneGiBThroughProxy(t *testing.T) {
	testpeer.Heavy(t)
	const size = 1 << 30
	received := make(chan int64, 1)
	up := startUpstream(t, &ws.AcceptOptions{Options: ws.Options{MaxIncomingFrameSize: -1, MaxIncomingMessageSize: -1}}, func(c *ws.Conn) {
		_, r, err := c.Reader(context.Background())
		if err != nil {
			received <- -1
			return
		}
		n, _ := io.Copy(io.Discard, r)
		received <- n
	})
	base, _ := startProxy(t, Options{Routes: []Route{{Upstream: up.url(), MaxFrameSize: -1, MaxMessageSize: -1}}})
	c := dial(t, base, nil)

	runtime.GC()
	stop := make(chan struct{})
	peak := testpeer.PeakHeap(stop)
	w, err := c.Writer(context.Background(), ws.MessageBinary)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for sent := 0; sent < size; sent += len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := <-received; n != size {
		t.Fatalf("upstream received %d bytes", n)
	}
	close(stop)
	p := <-peak
	t.Logf("peak heap in use: %.1f MiB while 1 GiB crossed the proxy", float64(p)/(1<<20))
	if p > 64<<20 {
		t.Fatalf("peak heap %d bytes: not bounded", p)
	}
}
