package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/ws"
)

// rawClient is a client leg driven byte by byte: it completes the
// handshake and then writes and reads raw frames.
type rawClient struct {
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, base string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(base, "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(nc, handshake+"\r\n")
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	return &rawClient{nc: nc, br: br}
}

// frame returns a masked client frame announcing length bytes and
// carrying payload (which may be shorter: a frame cut short).
func clientFrame(h ws.Header, length int64, payload []byte) []byte {
	h.Masked, h.Mask, h.Length = true, [4]byte{1, 2, 3, 4}, length
	var hdr [ws.MaxHeaderSize]byte
	n, err := ws.PutHeader(&hdr, h)
	if err != nil {
		panic(err)
	}
	p := append([]byte(nil), payload...)
	ws.Mask(h.Mask, 0, p)
	return append(hdr[:n:n], p...)
}

// next reads the next frame the proxy sends to the client.
func (c *rawClient) next(t *testing.T) (ws.Header, []byte, error) {
	t.Helper()
	var buf [ws.MaxHeaderSize]byte
	h, err := ws.ReadHeader(c.br, &buf)
	if err != nil {
		return h, nil, err
	}
	p := make([]byte, h.Length)
	_, err = io.ReadFull(c.br, p)
	return h, p, err
}

// closeFrame reads frames until a close frame and returns its code.
func (c *rawClient) closeFrame(t *testing.T) ws.StatusCode {
	t.Helper()
	for {
		h, p, err := c.next(t)
		if err != nil {
			t.Fatalf("no close frame: %v", err)
		}
		if h.OpCode == ws.OpClose {
			code, _, err := ws.ParseClosePayload(p)
			if err != nil {
				t.Fatal(err)
			}
			return code
		}
	}
}

func awaitCode(t *testing.T, seen <-chan ws.StatusCode, want ws.StatusCode, what string) {
	t.Helper()
	select {
	case code := <-seen:
		if code != want {
			t.Fatalf("%s: got %d, want %d", what, code, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: nothing after 10s (the relay is wedged)", what)
	}
}

// A client that announces a 1 MiB frame and goes silent must not wedge
// the relay: the keepalive, the idle timeout and the frame-progress
// timeout each still end the connection, and the upstream gets 1001.
func TestStalledFrameDoesNotWedgeRelay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		route Route
	}{
		// Before the relay rework the keepalive goroutine blocked in Ping
		// behind the pump, which held the upstream's frame lock waiting
		// for the payload: nothing ever ended the connection.
		{"keepalive and idle", Route{PingInterval: 30 * time.Millisecond, PongTimeout: 100 * time.Millisecond,
			IdleTimeout: 500 * time.Millisecond, FrameTimeout: -1}},
		{"frame timeout", Route{PingInterval: -1, FrameTimeout: 300 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			seen := make(chan ws.StatusCode, 1)
			up := startUpstream(t, nil, reportClose(seen))
			r := tc.route
			r.Upstream = up.url()
			base, _ := startProxy(t, Options{Routes: []Route{r}})
			c := dialRaw(t, base)
			c.nc.Write(clientFrame(ws.Header{Fin: true, OpCode: ws.OpBinary}, 1<<20, make([]byte, 10)))
			awaitCode(t, seen, ws.StatusGoingAway, "upstream")
		})
	}
	t.Run("the stalled client gets 1008", func(t *testing.T) {
		t.Parallel()
		seen := make(chan ws.StatusCode, 1)
		up := startUpstream(t, nil, reportClose(seen))
		base, _ := startProxy(t, Options{Routes: []Route{{Upstream: up.url(), FrameTimeout: 200 * time.Millisecond}}})
		c := dialRaw(t, base)
		c.nc.Write(clientFrame(ws.Header{Fin: true, OpCode: ws.OpText}, 1000, []byte("partial")))
		awaitCode(t, seen, ws.StatusGoingAway, "upstream")
		if code := c.closeFrame(t); code != ws.StatusPolicyViolation {
			t.Fatalf("client got %d, want 1008", code)
		}
	})
}

// An upstream that fails in the middle of a frame: the client gets a
// close frame with 1014, never a bare TCP close, and without waiting for
// the close timeout.
func TestUpstreamFailsMidFrame(t *testing.T) {
	t.Parallel()
	// Server frames are unmasked: the header is followed by the bytes.
	hdr := func(h ws.Header) []byte {
		var b [ws.MaxHeaderSize]byte
		n, _ := ws.PutHeader(&b, h)
		return b[:n]
	}
	for _, tc := range []struct {
		name string
		send func(nc net.Conn)
	}{
		{"invalid UTF-8 mid-frame", func(nc net.Conn) {
			nc.Write(append(hdr(ws.Header{Fin: true, OpCode: ws.OpText, Length: 100}), "valid text, then \xff\xfe"...))
		}},
		{"reset mid-frame", func(nc net.Conn) {
			nc.Write(append(hdr(ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 100}), make([]byte, 10)...))
			time.Sleep(50 * time.Millisecond)
			nc.(*net.TCPConn).SetLinger(0)
			nc.Close()
		}},
		{"reserved opcode, then deaf", func(nc net.Conn) {
			nc.Write(hdr(ws.Header{Fin: true, OpCode: 0x3}))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			up := startUpstream(t, nil, func(c *ws.Conn) {
				tc.send(c.NetConn())
				<-release // never reads again
			})
			defer close(release)
			base, _ := startProxy(t, Options{Routes: []Route{{Upstream: up.url()}}, CloseTimeout: 30 * time.Second})
			c := dial(t, base, nil)
			start := time.Now()
			_, _, err := c.ReadMessage(ctxT(t))
			if code := closeCode(t, err); code != ws.StatusBadGateway {
				t.Fatalf("client saw %d (%v)", code, err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("the client's close waited %s for the failing upstream", d)
			}
		})
	}
}

// A client that sends a valid message and then breaks the protocol gets
// the upstream's answer to the valid message before its close, as it
// would directly (Autobahn 3.2-3.4, 4.1.3-4.1.5, 4.2.3-4.2.5, 5.15).
func TestClientErrorAfterValidMessage(t *testing.T) {
	t.Parallel()
	hello := clientFrame(ws.Header{Fin: true, OpCode: ws.OpText}, 5, []byte("hello"))
	for _, tc := range []struct {
		name string
		bad  []byte
		code ws.StatusCode
	}{
		{"reserved bits (3.2)", clientFrame(ws.Header{Fin: true, OpCode: ws.OpText, Rsv: 2}, 5, []byte("hello")), ws.StatusProtocolError},
		{"reserved data opcode (4.1.3)", clientFrame(ws.Header{Fin: true, OpCode: 0x5}, 0, nil), ws.StatusProtocolError},
		{"reserved control opcode (4.2.3)", clientFrame(ws.Header{Fin: true, OpCode: 0xb}, 0, nil), ws.StatusProtocolError},
		{"continuation without a message (5.15)", clientFrame(ws.Header{Fin: true, OpCode: ws.OpContinuation}, 2, []byte("xx")), ws.StatusProtocolError},
		{"invalid UTF-8", clientFrame(ws.Header{Fin: true, OpCode: ws.OpText}, 2, []byte("\xff\xfe")), ws.StatusInvalidFramePayloadData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base, _ := startEchoProxy(t, Options{})
			c := dialRaw(t, base)
			c.nc.Write(append(append([]byte(nil), hello...), tc.bad...))
			h, p, err := c.next(t)
			if err != nil || h.OpCode != ws.OpText || string(p) != "hello" {
				t.Fatalf("first frame to the client: %v %q %v, want the echo of hello", h.OpCode, p, err)
			}
			if code := c.closeFrame(t); code != tc.code {
				t.Fatalf("client closed with %d, want %d", code, tc.code)
			}
		})
	}
}

// An upstream that never reads is dropped by the write timeout: the
// writer is not wedged, the client gets 1014 and memory stays bounded by
// the socket buffers.
func TestUpstreamNeverReads(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	up := startUpstream(t, nil, func(c *ws.Conn) { <-release })
	defer close(release)
	base, _ := startProxy(t, Options{Routes: []Route{{Upstream: up.url(), WriteTimeout: 300 * time.Millisecond}}})
	c := dial(t, base, nil)
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	writerDone := make(chan error, 1)
	go func() {
		msg := make([]byte, 64<<10)
		for {
			if err := c.WriteMessage(ctx, ws.MessageBinary, msg); err != nil {
				writerDone <- err
				return
			}
		}
	}()
	_, _, err := c.ReadMessage(ctx)
	if code := closeCode(t, err); code != ws.StatusBadGateway {
		t.Fatalf("client saw %d", code)
	}
	cancel()
	<-writerDone
}

func TestRefragmentable(t *testing.T) {
	for ext, want := range map[string]bool{
		"": true, "permessage-deflate": true, "permessage-deflate; client_max_window_bits=10": true,
		"x-custom": false, "permessage-deflate, x-custom; a=1": false,
	} {
		if got := refragmentable(ext); got != want {
			t.Errorf("refragmentable(%q) = %v", ext, got)
		}
	}
}

// Ping floods and tiny-frame floods are cut with 1008; the upstream is
// closed with 1001, and traffic under the limits passes.
func TestFloodsClosedWith1008(t *testing.T) {
	t.Parallel()
	ping := clientFrame(ws.Header{Fin: true, OpCode: ws.OpPing}, 1, []byte("p"))
	tiny := clientFrame(ws.Header{OpCode: ws.OpContinuation}, 1, []byte("x"))
	for _, tc := range []struct {
		name  string
		flood func() []byte
	}{
		{"ping flood", func() []byte { return bytes.Repeat(ping, 100) }},
		{"tiny-frame flood", func() []byte {
			first := clientFrame(ws.Header{OpCode: ws.OpBinary}, 1, []byte("x"))
			return append(first, bytes.Repeat(tiny, 1000)...)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			seen := make(chan ws.StatusCode, 1)
			up := startUpstream(t, nil, reportClose(seen))
			base, _ := startProxy(t, Options{Routes: []Route{{Upstream: up.url(), MaxControlRate: 20, MaxTinyFrameRate: 200}}})
			c := dialRaw(t, base)
			go c.nc.Write(tc.flood())
			awaitCode(t, seen, ws.StatusGoingAway, "upstream")
			if code := c.closeFrame(t); code != ws.StatusPolicyViolation {
				t.Fatalf("client got %d, want 1008", code)
			}
		})
	}
	t.Run("under the limits", func(t *testing.T) {
		t.Parallel()
		up := startUpstream(t, nil, echoHandle)
		base, _ := startProxy(t, Options{Routes: []Route{{Upstream: up.url(), MaxControlRate: 20, MaxTinyFrameRate: 200}}})
		c := dial(t, base, nil)
		ctx := ctxT(t)
		for i := range 150 { // tiny messages, and frames of 16 bytes and more are not counted
			size := 1
			if i%2 == 0 {
				size = 4096
			}
			if err := c.WriteMessage(ctx, ws.MessageBinary, make([]byte, size)); err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.ReadMessage(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Close(ws.StatusNormalClosure, ""); err != nil {
			t.Fatal(err)
		}
	})
}

// An upstream that never answers is a timeout whichever deadline fires
// first: the dial's context or the socket's own (regression: an
// "i/o timeout" was reported as "upstream unavailable").
func TestUpstreamTimeoutReason(t *testing.T) {
	sockTimeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	for _, err := range []error{context.DeadlineExceeded, fmt.Errorf("ws: reading the response: %w", sockTimeout)} {
		if got := badGatewayReason(err); got != "upstream timed out" {
			t.Errorf("badGatewayReason(%v) = %q", err, got)
		}
	}
}

// countingConn counts the writes made to a connection.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// Frames that arrive together leave together: a burst of small messages
// from the client goes upstream in a few writes, not one per frame.
func TestRelayCoalescesWrites(t *testing.T) {
	t.Parallel()
	const n = 100
	got := make(chan int, 1)
	up := startUpstream(t, nil, func(c *ws.Conn) {
		for i := range n {
			if _, _, err := c.ReadMessage(context.Background()); err != nil {
				got <- i
				return
			}
		}
		got <- n
	})
	var conn atomic.Pointer[countingConn]
	dialer := &net.Dialer{}
	base, _ := startProxy(t, Options{Routes: []Route{{Upstream: up.url(),
		UpstreamDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			cc := &countingConn{Conn: nc}
			conn.Store(cc)
			return cc, nil
		}}}})
	c := dialRaw(t, base)
	before := conn.Load().writes.Load() // the upgrade request
	var burst []byte
	for range n {
		burst = append(burst, clientFrame(ws.Header{Fin: true, OpCode: ws.OpBinary}, 10, make([]byte, 10))...)
	}
	if _, err := c.nc.Write(burst); err != nil {
		t.Fatal(err)
	}
	if m := <-got; m != n {
		t.Fatalf("upstream got %d messages, want %d", m, n)
	}
	if w := conn.Load().writes.Load() - before; w > n/5 {
		t.Fatalf("%d messages that arrived in one write left in %d writes", n, w)
	}
}

// A data frame followed, in the same write, by the pong that answers the
// proxy's own keepalive ping: the pong is consumed by the proxy, and the
// data frame written before it must still be flushed to the upstream at
// once. Before the fix it sat in the upstream leg's write buffer until
// something else flushed it (the next keepalive ping, 2 s later here; 30 s
// by default), so the client saw the next ping before the echo.
func TestDataThenOwnPongFlushed(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, nil, echoHandle)
	base, _ := startProxy(t, Options{Routes: []Route{{Upstream: up.url(), PingInterval: 2 * time.Second, PongTimeout: 10 * time.Second}}})
	c := dialRaw(t, base)
	h, token, err := c.next(t)
	if err != nil || h.OpCode != ws.OpPing {
		t.Fatalf("waiting for the keepalive ping: %v %v", h.OpCode, err)
	}
	msg := []byte("sent with the pong")
	both := append(clientFrame(ws.Header{OpCode: ws.OpText, Fin: true}, int64(len(msg)), msg),
		clientFrame(ws.Header{OpCode: ws.OpPong, Fin: true}, int64(len(token)), token)...)
	if _, err := c.nc.Write(both); err != nil {
		t.Fatal(err)
	}
	h, p, err := c.next(t)
	if err != nil || h.OpCode != ws.OpText || string(p) != string(msg) {
		t.Fatalf("after the data frame and the pong: %v %q %v, want the echo %q first", h.OpCode, p, err, msg)
	}
}
