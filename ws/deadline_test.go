package ws_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/ws"
)

// A peer that stops in the middle of a frame is dropped after
// FrameTimeout with 1008 and ErrStalled; an idle peer is not.
func TestFrameTimeout(t *testing.T) {
	t.Parallel()
	peer, c := rawClient(t, &ws.AcceptOptions{Options: ws.Options{FrameTimeout: 150 * time.Millisecond}})
	got := make(chan error, 1)
	go func() {
		_, _, err := c.ReadMessage(context.Background())
		got <- err
	}()
	time.Sleep(400 * time.Millisecond) // idle: longer than the frame timeout
	select {
	case err := <-got:
		t.Fatalf("an idle peer was dropped: %v", err)
	default:
	}
	full := peer.frame(0x82, make([]byte, 1000))
	if _, err := peer.nc.Write(full[:20]); err != nil { // header and a few bytes
		t.Fatal(err)
	}
	err := testpeer.Receive(t, got, 10*time.Second, "a peer stalled mid-frame was never dropped")
	wantProtocolError(t, err, ws.StatusPolicyViolation)
	if !errors.Is(err, ws.ErrStalled) {
		t.Fatalf("%v does not wrap ErrStalled", err)
	}
	if code := peer.expectClose(); code != ws.StatusPolicyViolation {
		t.Fatalf("peer got %d", code)
	}
}

// A stall inside the header counts too.
func TestFrameTimeoutInHeader(t *testing.T) {
	t.Parallel()
	peer, c := rawClient(t, &ws.AcceptOptions{Options: ws.Options{FrameTimeout: 100 * time.Millisecond}})
	if _, err := peer.nc.Write([]byte{0x82, 0x80 | 126}); err != nil { // length bytes missing
		t.Fatal(err)
	}
	_, _, err := c.NextFrame(ctxT(t))
	if !errors.Is(err, ws.ErrStalled) {
		t.Fatalf("got %v, want ErrStalled", err)
	}
}

// A peer that never reads makes writes fail after WriteTimeout instead of
// blocking forever.
func TestWriteTimeout(t *testing.T) {
	t.Parallel()
	_, c := rawClient(t, &ws.AcceptOptions{Options: ws.Options{WriteTimeout: 200 * time.Millisecond}})
	msg := make([]byte, 256<<10)
	var err error
	for i := 0; i < 1000 && err == nil; i++ { // the socket buffers fill first
		err = c.WriteMessage(ctxT(t), ws.MessageBinary, msg)
	}
	if !errors.Is(err, ws.ErrWriteTimeout) {
		t.Fatalf("got %v, want ErrWriteTimeout", err)
	}
	if c.State() != ws.StateClosed {
		t.Fatalf("state %v after a write timeout", c.State())
	}
}

// blockingReader blocks until released: a writer streaming from it holds
// the connection's frame lock meanwhile.
type blockingReader struct{ release chan struct{} }

func (r blockingReader) Read(p []byte) (int, error) {
	<-r.release
	return 0, io.ErrUnexpectedEOF
}

// The automatic pong never waits forever behind a writer stuck holding the
// frame lock: the reader goes on (regression: the pong was sent with
// context.Background()).
func TestAutoPongDoesNotWaitForever(t *testing.T) {
	t.Parallel()
	peer, c := rawClient(t, &ws.AcceptOptions{Options: ws.Options{WriteTimeout: -1, CloseTimeout: 200 * time.Millisecond}})
	release := make(chan struct{})
	defer close(release)
	go c.WriteFrameFrom(context.Background(), ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 10}, blockingReader{release})
	time.Sleep(50 * time.Millisecond) // let the writer take the lock
	peer.send(0x89, []byte("ping"))
	peer.send(0x82, []byte("after the ping"))
	got := make(chan error, 1)
	go func() {
		_, p, err := c.ReadMessage(context.Background())
		if err == nil && string(p) != "after the ping" {
			err = errors.New("wrong message " + string(p))
		}
		got <- err
	}()
	if err := testpeer.Receive(t, got, 10*time.Second, "the reader is stuck behind the automatic pong"); err != nil {
		t.Fatal(err)
	}
}

// With ManualCloseReply a protocol error waits for the application: no
// close frame goes out, writes still work, and StartClose then sends the
// close frame and ends the connection at once.
func TestManualCloseReplyOnProtocolError(t *testing.T) {
	t.Parallel()
	peer, c := rawClient(t, &ws.AcceptOptions{Options: ws.Options{ManualCloseReply: true}})
	peer.send(0xC2, []byte("rsv1")) // RSV1 without an extension
	_, _, err := c.NextFrame(ctxT(t))
	var pe *ws.ProtocolError
	if !errors.As(err, &pe) || pe.Code != ws.StatusProtocolError {
		t.Fatalf("got %v", err)
	}
	if err := c.WriteMessage(ctxT(t), ws.MessageText, []byte("still writable")); err != nil {
		t.Fatalf("write after the peer's error: %v", err)
	}
	h, p, err := peer.read()
	if err != nil || h.OpCode != ws.OpText || string(p) != "still writable" {
		t.Fatalf("peer read %v %q %v", h.OpCode, p, err)
	}
	if err := c.StartClose(pe.Code, pe.Msg); err != nil {
		t.Fatal(err)
	}
	if code := peer.expectClose(); code != ws.StatusProtocolError {
		t.Fatalf("peer got %d", code)
	}
	testpeer.Receive(t, c.Done(), 5*time.Second, "the connection stayed open after StartClose")
	if code, _ := c.CloseStatus(); code != ws.StatusProtocolError {
		t.Fatalf("close status %d", code)
	}
}

// BindContext: the bound context ending closes the connection; binding
// twice is an error.
func TestBindContext(t *testing.T) {
	_, c := rawClient(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	if err := c.BindContext(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.BindContext(ctx); err == nil {
		t.Fatal("a second BindContext succeeded")
	}
	assertNoAllocs(t, "Ping with the bound context", func() { _ = c.Ping(ctx, nil) })
	cancel()
	testpeer.Receive(t, c.Done(), 5*time.Second, "cancelling the bound context did not close the connection")
}

// FrameBuffered says whether a whole next frame is in the read buffer.
func TestFrameBuffered(t *testing.T) {
	t.Parallel()
	peer, c := rawClient(t, nil)
	two := append(peer.frame(0x82, []byte("one")), peer.frame(0x82, make([]byte, 300))...)
	if _, err := peer.nc.Write(two[:len(two)-1]); err != nil { // the second frame one byte short
		t.Fatal(err)
	}
	if _, _, err := c.ReadMessage(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if c.FrameBuffered() {
		t.Fatal("a frame one byte short reported whole")
	}
	if _, err := peer.nc.Write(two[len(two)-1:]); err != nil {
		t.Fatal(err)
	}
	// The byte arrives in the socket: the buffer has it once read.
	_, p, err := c.ReadMessage(ctxT(t))
	if err != nil || len(p) != 300 {
		t.Fatalf("%d %v", len(p), err)
	}
	if _, err := peer.nc.Write(append(peer.frame(0x82, []byte("a")), peer.frame(0x82, []byte("b"))...)); err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.ReadMessage(ctxT(t)); err != nil || string(p) != "a" {
		t.Fatalf("%q %v", p, err)
	}
	if !c.FrameBuffered() {
		t.Fatal("a whole frame in the buffer not reported")
	}
}
