package ws_test

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/ws"
)

// parkAndResume parks c on p and returns a channel that receives once
// resume runs.
func parkAndResume(t *testing.T, c *ws.Conn, p *ws.Poller) <-chan struct{} {
	t.Helper()
	resumed := make(chan struct{})
	if err := c.ParkRead(p, func() { close(resumed) }); err != nil {
		t.Fatalf("ParkRead: %v", err)
	}
	return resumed
}

// awaitResume fails the test unless resumed is closed within 5 s.
func awaitResume(t *testing.T, resumed <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-resumed:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: the parked connection was not resumed", what)
	}
}

// NextFrameWithin gives up after its limit with ErrIdle and leaves the
// connection open; parked over TLS, the connection is resumed when the
// peer sends, and two TLS records that one socket read takes are both
// read, in order (after ErrIdle the TLS layer is not looked at again
// before the socket signals).
func TestParkReadTLS(t *testing.T) {
	t.Parallel()
	send := make(chan struct{})
	c, _ := dialTwoRecords(t, send)
	if err := c.ParkRead(new(ws.Poller), func() {}); !errors.Is(err, ws.ErrNotParkable) {
		t.Fatalf("ParkRead before ErrIdle (the TLS layer not checked): %v, want ErrNotParkable", err)
	}
	start := time.Now()
	if _, _, err := c.NextFrameWithin(ctxT(t), 50*time.Millisecond); err != ws.ErrIdle {
		t.Fatalf("NextFrameWithin on a silent connection: %v, want ErrIdle", err)
	}
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Fatalf("ErrIdle after %v, before the 50ms limit", waited)
	}
	if !c.IsValid() {
		t.Fatalf("connection state %v after ErrIdle, want open", c.State())
	}
	var p ws.Poller
	resumed := parkAndResume(t, c, &p)
	select {
	case <-resumed:
		t.Fatal("resumed before anything was sent")
	case <-time.After(100 * time.Millisecond):
	}
	close(send)
	awaitResume(t, resumed, "peer sent two messages")
	time.Sleep(100 * time.Millisecond) // both records in the socket
	for _, want := range []string{"first", "second"} {
		h, r, err := c.NextFrameWithin(ctxT(t), 5*time.Second)
		if err != nil {
			t.Fatalf("reading %q: %v", want, err)
		}
		got, _ := io.ReadAll(r)
		if h.OpCode != ws.OpText || string(got) != want {
			t.Fatalf("got %v %q, want text %q", h.OpCode, got, want)
		}
	}
}

// A parked connection is resumed, exactly once, when it is closed under
// it (Abort, its bound context ending, the peer going away), and its next
// read reports the end; parking a closed connection fails.
func TestParkReadEndsWithConnection(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		end  func(client, server *ws.Conn, cancel context.CancelFunc)
	}{
		{"abort", func(c, _ *ws.Conn, _ context.CancelFunc) { c.Abort() }},
		{"bound context", func(_, _ *ws.Conn, cancel context.CancelFunc) { cancel() }},
		{"peer gone", func(_, s *ws.Conn, _ context.CancelFunc) { s.Abort() }},
		{"close timeout", func(c, _ *ws.Conn, _ context.CancelFunc) { _ = c.StartClose(ws.StatusNormalClosure, "") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The server never reads: the client's close is not answered.
			client, server := pair(t, nil, &ws.DialOptions{Options: ws.Options{CloseTimeout: 200 * time.Millisecond}})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if err := client.BindContext(ctx); err != nil {
				t.Fatal(err)
			}
			if _, _, err := client.NextFrameWithin(ctx, 20*time.Millisecond); err != ws.ErrIdle {
				t.Fatalf("NextFrameWithin: %v, want ErrIdle", err)
			}
			var p ws.Poller
			runs := make(chan struct{}, 2)
			if err := client.ParkRead(&p, func() { runs <- struct{}{} }); err != nil {
				t.Fatal(err)
			}
			tc.end(client, server, cancel)
			awaitResume(t, runs, tc.name)
			if _, _, err := client.NextFrame(context.Background()); err == nil {
				t.Fatal("NextFrame after the end: no error")
			}
			select {
			case <-runs:
				t.Fatal("resume ran twice")
			case <-time.After(300 * time.Millisecond):
			}
			if err := client.ParkRead(&p, func() { t.Error("resume of a closed connection's parking") }); !errors.Is(err, ws.ErrNotParkable) {
				t.Fatalf("ParkRead on a closed connection: %v, want ErrNotParkable", err)
			}
		})
	}
}

// Parked connections hold no goroutine: parking 200 idle connections
// leaves one (the Poller's), which ends once none is parked; each is
// resumed by its own peer's message and reads it.
func TestParkReadHoldsNoGoroutine(t *testing.T) {
	const n = 200
	clients := make([]*ws.Conn, n)
	servers := make([]*ws.Conn, n)
	for i := range n {
		clients[i], servers[i] = pair(t, nil, nil)
	}
	for _, c := range clients {
		if _, _, err := c.NextFrameWithin(ctxT(t), time.Millisecond); err != ws.ErrIdle {
			t.Fatalf("NextFrameWithin: %v, want ErrIdle", err)
		}
	}
	before := runtime.NumGoroutine()
	var p ws.Poller
	read := make(chan string, n)
	for _, c := range clients {
		if err := c.ParkRead(&p, func() {
			_, msg, err := c.ReadMessage(context.Background())
			if err != nil {
				read <- err.Error()
				return
			}
			read <- string(msg)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if now := runtime.NumGoroutine(); now > before+1 {
		t.Fatalf("%d goroutines with %d connections parked, %d before: want at most one more", now, n, before)
	}
	for i, s := range servers {
		if err := s.WriteMessage(ctxT(t), ws.MessageText, []byte(strings.Repeat("x", i%7))); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	for range n {
		select {
		case m := <-read:
			seen[m]++
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of %d parked connections resumed", len(seen), n)
		}
	}
	for i := range 7 {
		if want := (n + 6 - i) / 7; seen[strings.Repeat("x", i)] != want {
			t.Fatalf("messages read: %v", seen)
		}
	}
}

// ParkRead refuses a connection that has bytes buffered, or a frame half
// read, or another read in progress: resuming on readability would miss
// them.
func TestParkReadRefusesBusyConnection(t *testing.T) {
	t.Parallel()
	client, server := pair(t, nil, nil)
	var p ws.Poller
	for _, m := range []string{"one", "two"} {
		if err := server.WriteMessage(ctxT(t), ws.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	_, r, err := client.NextFrame(ctxT(t)) // "one"'s header; its payload and "two" buffered
	if err != nil {
		t.Fatal(err)
	}
	if err := client.ParkRead(&p, func() { t.Error("resumed") }); !errors.Is(err, ws.ErrNotParkable) {
		t.Fatalf("ParkRead with a frame half read: %v, want ErrNotParkable", err)
	}
	if _, err := io.ReadAll(r); err != nil {
		t.Fatal(err)
	}
	if err := client.ParkRead(&p, func() { t.Error("resumed") }); !errors.Is(err, ws.ErrNotParkable) {
		t.Fatalf("ParkRead with the next frame buffered: %v, want ErrNotParkable", err)
	}
}

// AdoptContext makes a context the connection's own without watching it:
// a call waiting for another reader gives up when it ends, but the
// connection stays open (the caller closes it); a second bind is refused.
func TestAdoptContext(t *testing.T) {
	t.Parallel()
	client, server := pair(t, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	if err := client.AdoptContext(ctx); err != nil {
		t.Fatal(err)
	}
	if err := client.BindContext(ctx); err == nil {
		t.Fatal("BindContext after AdoptContext: no error")
	}
	reading := make(chan error, 1)
	go func() { _, _, err := client.ReadMessage(ctx); reading <- err }()
	time.Sleep(50 * time.Millisecond) // the reader holds the read side
	waiting := make(chan error, 1)
	go func() { _, _, err := client.NextFrame(ctx); waiting <- err }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-waiting:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("waiting reader: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a reader waiting for the read side did not give up with the adopted context")
	}
	if !client.IsValid() {
		t.Fatalf("state %v after the adopted context ended, want open", client.State())
	}
	if err := server.WriteMessage(ctxT(t), ws.MessageText, []byte("still open")); err != nil {
		t.Fatal(err)
	}
	if err := <-reading; err != nil {
		t.Fatalf("the reading call: %v", err)
	}
}

// ParkRead racing the connection's close and the peer's bytes: whatever
// the order, resume runs exactly once when ParkRead returned nil and
// never when it returned an error, and nothing is left parked.
func TestParkReadRacesClose(t *testing.T) {
	t.Parallel()
	var p ws.Poller
	for i := range 60 {
		client, server := pair(t, nil, nil)
		if _, _, err := client.NextFrameWithin(ctxT(t), time.Millisecond); err != ws.ErrIdle {
			t.Fatalf("NextFrameWithin: %v, want ErrIdle", err)
		}
		var runs atomic.Int32
		resumed := make(chan struct{}, 2)
		parked := make(chan error, 1)
		go func() {
			parked <- client.ParkRead(&p, func() { runs.Add(1); resumed <- struct{}{} })
		}()
		switch i % 3 {
		case 0:
			client.Abort()
		case 1:
			_ = server.WriteMessage(ctxT(t), ws.MessageText, []byte("x"))
		case 2:
			server.Abort()
		}
		err := <-parked
		if err == nil {
			awaitResume(t, resumed, "a parked connection racing its end")
		}
		time.Sleep(20 * time.Millisecond)
		if want := int32(map[bool]int{true: 1, false: 0}[err == nil]); runs.Load() != want {
			t.Fatalf("round %d: ParkRead returned %v and resume ran %d times", i, err, runs.Load())
		}
		client.Abort()
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still parked after all were closed", p.Len())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
