package ws_test

import (
	"context"
	"crypto/sha256"
	"io"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/ws"
)

// pattern is an io.Reader of n deterministic bytes.
type pattern struct{ n, off int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	for i := range b {
		b[i] = byte((p.off + int64(i)) * 31 >> 3)
	}
	p.off += int64(len(b))
	return len(b), nil
}

// A 1 GiB frame streams through both ends in bounded memory.
func TestHeavyOneGiBFrameBoundedMemory(t *testing.T) {
	testpeer.Heavy(t)
	const size = 1 << 30
	o := ws.Options{MaxIncomingFrameSize: size, MaxIncomingMessageSize: size}
	c, s := pair(t, &ws.AcceptOptions{Options: o}, &ws.DialOptions{Options: o})
	runtime.GC()
	stop := make(chan struct{})
	peak := testpeer.PeakHeap(stop)

	want := sha256.New()
	io.Copy(want, &pattern{n: size})
	errc := make(chan error, 1)
	go func() {
		errc <- c.WriteFrameFrom(context.Background(), ws.Header{Fin: true, OpCode: ws.OpBinary, Length: size}, &pattern{n: size})
	}()
	h, r, err := s.NextFrame(ctxT(t))
	if err != nil || h.Length != size {
		t.Fatalf("%+v %v", h, err)
	}
	got := sha256.New()
	n, err := io.CopyBuffer(got, r, make([]byte, 64<<10))
	if err != nil || n != size {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	close(stop)
	if string(got.Sum(nil)) != string(want.Sum(nil)) {
		t.Fatal("payload corrupted")
	}
	p := <-peak
	t.Logf("peak heap in use: %.1f MiB for a 1 GiB frame", float64(p)/(1<<20))
	if p > 64<<20 {
		t.Fatalf("peak heap %d bytes: not bounded", p)
	}
}

// A message over the limit is refused from its header: nothing of it is
// buffered, and the sender sees 1009.
func TestHeavyOversizedMessageRefusedEarly(t *testing.T) {
	testpeer.Heavy(t)
	c, s := pair(t, &ws.AcceptOptions{Options: ws.Options{MaxIncomingMessageSize: 1 << 20}}, nil)
	var sent atomic.Int64 // bytes the client managed to hand to its socket
	go func() {
		// Announce 1 GiB; the server must refuse before reading it.
		c.WriteFrameFrom(context.Background(), ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 1 << 30}, io.TeeReader(&pattern{n: 1 << 30}, writerFunc(func(b []byte) { sent.Add(int64(len(b))) })))
	}()
	_, _, err := s.ReadMessage(ctxT(t))
	wantProtocolError(t, err, ws.StatusMessageTooBig)
	_, _, err = c.ReadMessage(ctxT(t))
	t.Logf("client wrote %d bytes of 1 GiB before the refusal", sent.Load())
	if code, _ := c.CloseStatus(); code != ws.StatusMessageTooBig && code != ws.StatusAbnormalClosure {
		t.Fatalf("client saw %d (%v)", code, err)
	}
}

type writerFunc func([]byte)

func (f writerFunc) Write(b []byte) (int, error) { f(b); return len(b), nil }
