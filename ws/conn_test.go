package ws_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/ws"
)

func TestMessagesFragmentedAtOutgoingFrameSize(t *testing.T) {
	t.Parallel()
	p, c := rawServer(t, &ws.DialOptions{Options: ws.Options{OutgoingFrameSize: 4}})
	go c.WriteMessage(ctxT(t), ws.MessageText, []byte("héllo wörld"))
	var got []byte
	for i := 0; ; i++ {
		h, payload, err := p.read()
		if err != nil {
			t.Fatal(err)
		}
		if !h.Masked {
			t.Fatal("client frame not masked")
		}
		if h.Length > 4 {
			t.Fatalf("frame of %d bytes exceeds the outgoing frame size 4", h.Length)
		}
		wantOp := ws.OpContinuation
		if i == 0 {
			wantOp = ws.OpText
		}
		if h.OpCode != wantOp {
			t.Fatalf("frame %d opcode %v, want %v", i, h.OpCode, wantOp)
		}
		got = append(got, payload...)
		if h.Fin {
			break
		}
	}
	if string(got) != "héllo wörld" {
		t.Fatalf("reassembled %q", got)
	}
}

func TestDefaultOutgoingFrameSize(t *testing.T) {
	t.Parallel()
	p, c := rawServer(t, nil)
	msg := make([]byte, ws.DefaultOutgoingFrameSize+10)
	go c.WriteMessage(ctxT(t), ws.MessageBinary, msg)
	h1, _, err := p.read()
	if err != nil || h1.Length != 512<<10 || h1.Fin {
		t.Fatalf("first frame %+v %v", h1, err)
	}
	h2, _, err := p.read()
	if err != nil || h2.Length != 10 || !h2.Fin || h2.OpCode != ws.OpContinuation {
		t.Fatalf("second frame %+v %v", h2, err)
	}
}

func TestWriteRefusesInvalidText(t *testing.T) {
	t.Parallel()
	c, _ := pair(t, nil, nil)
	if err := c.WriteMessage(ctxT(t), ws.MessageText, []byte("a\xff")); !errors.Is(err, ws.ErrInvalidUTF8) {
		t.Fatalf("got %v", err)
	}
	if err := c.WriteMessage(ctxT(t), ws.OpPing, nil); err == nil {
		t.Fatal("WriteMessage accepted a ping type")
	}
	if c.BytesWritten() != 0 {
		t.Fatal("bytes were sent for refused messages")
	}
}

func TestCloseBothDirections(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code   ws.StatusCode
		reason string
	}{{1000, ""}, {1000, "done"}, {4000, "custom reason ✓"}, {ws.StatusNoStatusReceived, ""}} {
		for _, clientCloses := range []bool{true, false} {
			t.Run(fmt.Sprintf("%d/client=%v", tc.code, clientCloses), func(t *testing.T) {
				t.Parallel()
				c, s := pair(t, nil, nil)
				closer, other := c, s
				if !clientCloses {
					closer, other = s, c
				}
				readErr := make(chan error, 1)
				go func() {
					_, _, err := other.ReadMessage(context.Background())
					readErr <- err
				}()
				if err := closer.Close(tc.code, tc.reason); err != nil {
					t.Fatalf("Close: %v", err)
				}
				wantCloseError(t, <-readErr, tc.code)
				for _, conn := range []*ws.Conn{closer, other} {
					<-conn.Done()
					code, reason := conn.CloseStatus()
					if code != tc.code || reason != tc.reason {
						t.Errorf("CloseStatus %d %q, want %d %q", code, reason, tc.code, tc.reason)
					}
					if conn.State() != ws.StateClosed {
						t.Errorf("state %v", conn.State())
					}
				}
				if err := closer.Close(1000, ""); !errors.Is(err, ws.ErrClosed) {
					t.Errorf("second Close: %v", err)
				}
				if err := closer.WriteMessage(ctxT(t), ws.MessageText, nil); !errors.Is(err, ws.ErrClosed) {
					t.Errorf("write after close: %v", err)
				}
			})
		}
	}
}

// Close in the middle of an unread message skips the rest of it before
// looking for the peer's close frame.
func TestCloseWithUnreadMessage(t *testing.T) {
	t.Parallel()
	p, c := rawServer(t, nil)
	p.send(0x02, bytes.Repeat([]byte{0x88}, 300)) // looks like close headers if misparsed
	p.send(0x80, bytes.Repeat([]byte{0x88}, 300))
	if _, _, err := c.NextFrame(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- c.Close(4000, "") }()
	if got := p.expectClose(); got != 4000 {
		t.Fatalf("peer saw %d", got)
	}
	p.send(0x88, []byte{0x0f, 0xa0})
	p.nc.Close() // the server closes TCP first
	if err := <-errc; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if code, _ := c.CloseStatus(); code != 4000 {
		t.Fatalf("CloseStatus %d", code)
	}
}

func TestCloseRejectsBadInput(t *testing.T) {
	t.Parallel()
	c, _ := pair(t, nil, nil)
	for _, code := range []ws.StatusCode{0, 999, 1005 + 1, 1015, 2000} {
		if err := c.Close(code, ""); err == nil {
			t.Errorf("Close(%d) accepted", code)
		}
	}
	if err := c.Close(1000, "\xff"); err == nil {
		t.Error("invalid UTF-8 reason accepted")
	}
	if c.State() != ws.StateOpen {
		t.Fatalf("refused Close changed the state to %v", c.State())
	}
}

func TestCloseReasonTruncated(t *testing.T) {
	t.Parallel()
	c, s := pair(t, nil, nil)
	long := strings.Repeat("€", 60) // 180 bytes
	go s.ReadMessage(context.Background())
	if err := c.Close(4001, long); err != nil {
		t.Fatal(err)
	}
	_, reason := s.CloseStatus()
	if len(reason) != 123 || reason != long[:123] {
		t.Fatalf("reason of %d bytes: %q", len(reason), reason)
	}
}

func TestCloseTimeoutWhenPeerSilent(t *testing.T) {
	t.Parallel()
	p, c := rawServer(t, &ws.DialOptions{Options: ws.Options{CloseTimeout: 200 * time.Millisecond}})
	start := time.Now()
	err := c.Close(1000, "bye")
	wantCloseError(t, err, ws.StatusAbnormalClosure)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v", d)
	}
	if got := p.expectClose(); got != 1000 {
		t.Fatalf("peer saw close %d", got)
	}
	if code, _ := c.CloseStatus(); code != ws.StatusAbnormalClosure {
		t.Fatalf("CloseStatus %d", code)
	}
}

func TestAbruptCloseIs1006(t *testing.T) {
	t.Parallel()
	p, c := rawServer(t, nil)
	var errs atomic.Int32
	p.nc.Close()
	_, _, err := c.ReadMessage(ctxT(t))
	wantCloseError(t, err, ws.StatusAbnormalClosure)
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Logf("cause: %v", err)
	}
	_ = errs.Load()
	if code, _ := c.CloseStatus(); code != ws.StatusAbnormalClosure {
		t.Fatalf("CloseStatus %d", code)
	}
}

func TestAbortDropsPendingWrites(t *testing.T) {
	t.Parallel()
	p, c := rawServer(t, &ws.DialOptions{Options: ws.Options{DeferFlush: true}})
	if err := c.WriteMessage(ctxT(t), ws.MessageText, []byte("buffered")); err != nil {
		t.Fatal(err)
	}
	if c.BytesToWrite() == 0 {
		t.Fatal("nothing buffered with DeferFlush")
	}
	c.Abort()
	if c.State() != ws.StateClosed {
		t.Fatal("not closed")
	}
	if _, _, err := p.read(); err == nil {
		t.Fatal("a buffered frame reached the peer after Abort")
	}
	if err := c.WriteMessage(ctxT(t), ws.MessageText, nil); err == nil {
		t.Fatal("write after abort succeeded")
	}
}

func TestFlushAndCounters(t *testing.T) {
	t.Parallel()
	var eventBytes atomic.Int64
	p, c := rawServer(t, &ws.DialOptions{Options: ws.Options{
		DeferFlush: true,
		Events:     ws.Events{OnBytesWritten: func(n int) { eventBytes.Add(int64(n)) }},
	}})
	for i := 0; i < 3; i++ {
		if err := c.WriteMessage(ctxT(t), ws.MessageBinary, []byte("abc")); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.BytesToWrite(); got != 3*(2+4+3) {
		t.Fatalf("BytesToWrite %d, want 27", got)
	}
	if err := c.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if c.BytesToWrite() != 0 || c.BytesWritten() != 27 || eventBytes.Load() != 27 {
		t.Fatalf("after flush: toWrite %d written %d events %d", c.BytesToWrite(), c.BytesWritten(), eventBytes.Load())
	}
	for i := 0; i < 3; i++ {
		if _, payload, err := p.read(); err != nil || string(payload) != "abc" {
			t.Fatalf("frame %d: %q %v", i, payload, err)
		}
	}
}

func TestPingPong(t *testing.T) {
	t.Parallel()
	type pong struct {
		elapsed time.Duration
		payload string
	}
	pongs := make(chan pong, 2)
	pings := make(chan string, 1)
	c, s := pair(t, &ws.AcceptOptions{Options: ws.Options{Events: ws.Events{
		OnPing: func(p []byte) { pings <- string(p) },
	}}}, &ws.DialOptions{Options: ws.Options{Events: ws.Events{
		OnPong: func(d time.Duration, p []byte) { pongs <- pong{d, string(p)} },
	}}})
	go s.ReadMessage(context.Background())
	go c.ReadMessage(context.Background())
	long := strings.Repeat("x", 200)
	if err := c.Ping(ctxT(t), []byte(long)); err != nil {
		t.Fatal(err)
	}
	got := <-pongs
	if got.payload != long[:125] || got.elapsed <= 0 {
		t.Fatalf("pong %q after %v", got.payload, got.elapsed)
	}
	if p := <-pings; p != long[:125] {
		t.Fatalf("server saw ping %q", p)
	}
}

func TestDisableAutoPong(t *testing.T) {
	t.Parallel()
	p, c := rawServer(t, &ws.DialOptions{Options: ws.Options{DisableAutoPong: true}})
	p.send(0x89, []byte("relay me"))
	p.send(0x82, []byte("data"))
	h, r, err := c.NextFrame(ctxT(t))
	if err != nil || h.OpCode != ws.OpPing {
		t.Fatalf("NextFrame %+v %v", h, err)
	}
	b, _ := io.ReadAll(r)
	if string(b) != "relay me" {
		t.Fatalf("ping payload %q", b)
	}
	if err := c.Pong(ctxT(t), b); err != nil {
		t.Fatal(err)
	}
	// The only pong is the one sent by hand.
	h2, payload, err := p.read()
	if err != nil || h2.OpCode != ws.OpPong || string(payload) != "relay me" {
		t.Fatalf("%+v %q %v", h2, payload, err)
	}
}

func TestEventsAndStates(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var log []string
	add := func(s string) { mu.Lock(); log = append(log, s); mu.Unlock() }
	ev := ws.Events{
		OnConnected:           func() { add("connected") },
		OnStateChanged:        func(s ws.State) { add("state:" + s.String()) },
		OnAboutToClose:        func() { add("aboutToClose") },
		OnReadChannelFinished: func() { add("readChannelFinished") },
		OnDisconnected:        func() { add("disconnected") },
		OnTextMessage:         func(m string) { add("text:" + m) },
		OnBinaryMessage:       func(m []byte) { add("binary:" + string(m)) },
		OnTextFrame:           func(f []byte, last bool) { add(fmt.Sprintf("textFrame:%s:%v", f, last)) },
		OnBinaryFrame:         func(f []byte, last bool) { add(fmt.Sprintf("binaryFrame:%s:%v", f, last)) },
	}
	c, s := pair(t, nil, &ws.DialOptions{Options: ws.Options{Events: ev}})
	if !c.IsValid() || c.Version() != 13 || c.ResourceName() != "/path?q=1" || c.URL().Scheme != "ws" {
		t.Fatalf("valid %v version %d resource %q url %v", c.IsValid(), c.Version(), c.ResourceName(), c.URL())
	}
	if s.Request().URL.Path != "/path" || s.RemoteAddr().String() != c.LocalAddr().String() {
		t.Fatalf("server request %v, peer %v", s.Request().URL, s.RemoteAddr())
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background()) }()
	ctx := ctxT(t)
	s.WriteFrame(ctx, ws.Header{OpCode: ws.OpText}, []byte("he"))
	s.WriteFrame(ctx, ws.Header{Fin: true, OpCode: ws.OpContinuation}, []byte("llo"))
	s.WriteMessage(ctx, ws.MessageBinary, []byte("bin"))
	s.Close(1000, "")
	wantCloseError(t, <-done, 1000)
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		"connected", // state Open was set before OnConnected
		"textFrame:he:false", "textFrame:llo:true", "text:hello",
		"binaryFrame:bin:true", "binary:bin",
		"readChannelFinished", "aboutToClose", "state:closing",
		"state:closed", "disconnected",
	}
	got := strings.Join(log, " ")
	if !strings.HasSuffix(got, strings.Join(want[1:], " ")) || !strings.Contains(got, "connected") {
		t.Fatalf("events:\n got %s\nwant %s", got, strings.Join(want, " "))
	}
}

func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	c, s := pair(t, &ws.AcceptOptions{}, &ws.DialOptions{Options: ws.Options{OutgoingFrameSize: 7}})
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Go(func() {
			for i := 0; i < each; i++ {
				msg := fmt.Sprintf("writer %d message %d %s", w, i, strings.Repeat("é", i))
				if err := c.WriteMessage(context.Background(), ws.MessageText, []byte(msg)); err != nil {
					t.Error(err)
					return
				}
				if i%10 == 0 {
					_ = c.Ping(context.Background(), []byte("p"))
				}
			}
		})
	}
	seen := map[string]bool{}
	for len(seen) < writers*each {
		_, msg, err := s.ReadMessage(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		var w, i int
		if _, err := fmt.Sscanf(string(msg), "writer %d message %d", &w, &i); err != nil || string(msg) != fmt.Sprintf("writer %d message %d %s", w, i, strings.Repeat("é", i)) {
			t.Fatalf("corrupt message %q", msg)
		}
		seen[string(msg)] = true
	}
	wg.Wait()
}

func TestStreamingWriterAndReader(t *testing.T) {
	t.Parallel()
	c, s := pair(t, nil, &ws.DialOptions{Options: ws.Options{OutgoingFrameSize: 1000}})
	go func() {
		w, err := c.Writer(context.Background(), ws.MessageBinary)
		if err != nil {
			return
		}
		for i := 0; i < 100; i++ {
			w.Write(bytes.Repeat([]byte{byte(i)}, 333))
		}
		w.Close()
	}()
	typ, r, err := s.Reader(ctxT(t))
	if err != nil || typ != ws.MessageBinary {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 50)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 33300 || got[333*50] != 50 {
		t.Fatalf("got %d bytes", len(got))
	}
}

func TestUnreadMessageIsSkipped(t *testing.T) {
	t.Parallel()
	c, s := pair(t, nil, nil)
	go func() {
		c.WriteMessage(context.Background(), ws.MessageText, []byte("first, not read"))
		c.WriteMessage(context.Background(), ws.MessageText, []byte("second"))
	}()
	if _, _, err := s.Reader(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	_, msg, err := s.ReadMessage(ctxT(t))
	if err != nil || string(msg) != "second" {
		t.Fatalf("%q %v", msg, err)
	}
}

func TestContextCancelClosesConnection(t *testing.T) {
	t.Parallel()
	c, _ := pair(t, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	_, _, err := c.ReadMessage(ctx)
	if err == nil || !errors.Is(err, ws.ErrClosed) {
		t.Fatalf("got %v", err)
	}
	<-c.Done()
}

// A context governs one read: cancelling it after the read returned leaves
// the connection open.
func TestContextEndsWithItsRead(t *testing.T) {
	t.Parallel()
	c, s := pair(t, nil, nil)
	for _, read := range []string{"ReadMessage", "NextFrame", "empty message"} {
		ctx, cancel := context.WithCancel(context.Background())
		msg := []byte("x")
		if read == "empty message" {
			msg = nil
		}
		go s.WriteMessage(context.Background(), ws.MessageText, msg)
		var err error
		if read == "NextFrame" {
			var r io.Reader
			_, r, err = c.NextFrame(ctx)
			if err == nil {
				_, err = io.ReadAll(r)
			}
		} else {
			_, _, err = c.ReadMessage(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		time.Sleep(10 * time.Millisecond)
		if c.State() != ws.StateOpen {
			t.Fatalf("%s: cancelling a finished read's context closed the connection", read)
		}
	}
}

func TestCustomMaskGenerator(t *testing.T) {
	t.Parallel()
	p, c := rawServer(t, &ws.DialOptions{Options: ws.Options{MaskGenerator: fixedMask{1, 2, 3, 4}}})
	go c.WriteMessage(ctxT(t), ws.MessageText, []byte("masked"))
	h, payload, err := p.read()
	if err != nil || h.Mask != [4]byte{1, 2, 3, 4} || string(payload) != "masked" {
		t.Fatalf("%+v %q %v", h, payload, err)
	}
}

type fixedMask [4]byte

func (m fixedMask) NextMask() [4]byte { return m }

func TestWriteFrameChecks(t *testing.T) {
	t.Parallel()
	c, _ := pair(t, nil, nil)
	ctx := ctxT(t)
	bad := []ws.Header{
		{Fin: true, OpCode: 0x3},
		{Fin: true, Rsv: ws.Rsv1, OpCode: ws.OpText},
		{Fin: false, OpCode: ws.OpPing},
		{Fin: true, OpCode: ws.OpClose},
	}
	for _, h := range bad {
		if err := c.WriteFrame(ctx, h, nil); err == nil {
			t.Errorf("WriteFrame(%+v) accepted", h)
		}
	}
	if err := c.WriteFrame(ctx, ws.Header{Fin: true, OpCode: ws.OpPing}, make([]byte, 126)); err == nil {
		t.Error("126-byte ping accepted")
	}
	if c.BytesWritten() != 0 {
		t.Fatal("refused frames were written")
	}
}

func TestWriteFrameFromShortReaderAborts(t *testing.T) {
	t.Parallel()
	c, _ := pair(t, nil, nil)
	err := c.WriteFrameFrom(ctxT(t), ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 100}, strings.NewReader("short"))
	if err == nil {
		t.Fatal("short payload accepted")
	}
	<-c.Done()
}

var _ net.Conn

// StartClose returns at once; the reader goes on receiving what the peer
// sent before its close.
func TestStartCloseKeepsReading(t *testing.T) {
	t.Parallel()
	p, c := rawServer(t, nil)
	if err := c.StartClose(4001, "done sending"); err != nil {
		t.Fatal(err)
	}
	if c.State() != ws.StateClosing {
		t.Fatalf("state %v", c.State())
	}
	if err := c.WriteMessage(ctxT(t), ws.MessageText, []byte("late")); !errors.Is(err, ws.ErrClosed) {
		t.Fatalf("data after our close frame: %v", err)
	}
	if got := p.expectClose(); got != 4001 {
		t.Fatalf("peer saw %d", got)
	}
	p.send(0x81, []byte("in flight"))
	p.send(0x88, []byte{0x0f, 0xa1})
	p.nc.Close()
	_, msg, err := c.ReadMessage(ctxT(t))
	if err != nil || string(msg) != "in flight" {
		t.Fatalf("%q %v", msg, err)
	}
	_, _, err = c.ReadMessage(ctxT(t))
	wantCloseError(t, err, 4001)
}

func TestStartCloseTimesOut(t *testing.T) {
	t.Parallel()
	_, c := rawServer(t, &ws.DialOptions{Options: ws.Options{CloseTimeout: 100 * time.Millisecond}})
	if err := c.StartClose(1000, ""); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("not aborted after the close timeout")
	}
	if code, reason := c.CloseStatus(); code != ws.StatusAbnormalClosure || reason != "close handshake timed out" {
		t.Fatalf("CloseStatus %d %q", code, reason)
	}
}

// ManualCloseReply: the peer's close is reported, data may still be sent,
// and Close answers with the code the application chooses.
func TestManualCloseReply(t *testing.T) {
	t.Parallel()
	for _, role := range []string{"server", "client"} {
		t.Run(role, func(t *testing.T) {
			t.Parallel()
			o := ws.Options{ManualCloseReply: true}
			p, c := rawPeerOf(t, role, o)
			p.send(0x88, []byte{0x0f, 0xa0, 'b', 'y', 'e'})
			_, _, err := c.ReadMessage(ctxT(t))
			wantCloseError(t, err, 4000)
			if c.State() != ws.StateClosing {
				t.Fatalf("state %v", c.State())
			}
			if err := c.WriteMessage(ctxT(t), ws.MessageText, []byte("last words")); err != nil {
				t.Fatalf("writing before the reply: %v", err)
			}
			if h, payload, err := p.read(); err != nil || h.OpCode != ws.OpText || string(payload) != "last words" {
				t.Fatalf("%+v %q %v", h, payload, err)
			}
			if role == "client" {
				go func() { p.expectClose(); p.nc.Close() }()
			}
			if err := c.Close(4002, "relayed reply"); err != nil {
				t.Fatal(err)
			}
			if role == "server" {
				if got := p.expectClose(); got != 4002 {
					t.Fatalf("peer saw %d", got)
				}
			}
			<-c.Done()
			if code, reason := c.CloseStatus(); code != 4000 || reason != "bye" {
				t.Fatalf("CloseStatus %d %q: want the peer's", code, reason)
			}
		})
	}
}
