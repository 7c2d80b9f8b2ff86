package conformance

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/proxy"
	"github.com/wssproxy/wssproxy/ws"
	"github.com/wssproxy/wssproxy/ws/echo"
)

// This file is the fuzzing client: it speaks RFC 6455 on a raw TCP
// connection with its own frame encoder and decoder (nothing from package
// ws is used on the client side), so that it can send what a well-behaved
// endpoint never would and see exactly what the server puts on the wire.

// Opcodes, written out so that the client does not depend on package ws.
const (
	opCont   byte = 0x0
	opText   byte = 0x1
	opBinary byte = 0x2
	opClose  byte = 0x8
	opPing   byte = 0x9
	opPong   byte = 0xA
)

// target is an echo server under test.
type target struct {
	name string
	addr string // host:port
}

// startTargets starts the two echo servers every case runs against, both
// configured with opts (nil: defaults) and stopped when t ends:
//   - "http": httptest.NewServer with echo.Handler (net/http, hijack);
//   - "raw": a TCP listener serving ws.ReadUpgrade, Upgrade.Accept and
//     echo.Serve, the path the proxy uses.
//   - "proxy": a proxy.Server (the relay of `wssproxy serve`, with the
//     same limits) in front of a "raw" echo server, so that every case
//     also checks that the proxy changes nothing a client can see.
func startTargets(t *testing.T, opts *ws.AcceptOptions) []target {
	return []target{startHTTPTarget(t, opts), startRawTarget(t, opts), startProxyTarget(t, opts)}
}

func startProxyTarget(t *testing.T, opts *ws.AcceptOptions) target {
	t.Helper()
	route := proxy.Route{}
	upOpts := opts
	if opts != nil {
		// The route's limits apply to both legs: the echo's frames must
		// fit the frame limit on their way back.
		route.MaxFrameSize, route.MaxMessageSize = opts.MaxIncomingFrameSize, opts.MaxIncomingMessageSize
		o := *opts
		if o.MaxIncomingFrameSize > 0 {
			o.OutgoingFrameSize = int(o.MaxIncomingFrameSize)
		}
		upOpts = &o
	}
	up := startRawTarget(t, upOpts)
	route.Upstream = "ws://" + up.addr
	srv, err := proxy.New(&proxy.Options{Routes: []proxy.Route{route}})
	if err != nil {
		t.Fatal(err)
	}
	addr := testpeer.RunServer(t, 10*time.Second, srv.Serve, func(ctx context.Context) error {
		if err := srv.Shutdown(ctx, ws.StatusGoingAway, "test over"); err != nil {
			t.Errorf("proxy shutdown: %v", err)
		}
		return nil
	})
	return target{name: "proxy", addr: addr}
}

func startHTTPTarget(t *testing.T, opts *ws.AcceptOptions) target {
	t.Helper()
	base, cancel := context.WithCancel(context.Background())
	h := &echo.Handler{Accept: opts}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Hijacked connections outlive httptest.Server.Close; tie them
		// to the test so that none survives it.
		ctx, stop := context.WithCancel(r.Context())
		defer stop()
		defer context.AfterFunc(base, stop)()
		h.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(func() {
		cancel()
		srv.Close()
	})
	return target{name: "http", addr: srv.Listener.Addr().String()}
}

func startRawTarget(t *testing.T, opts *ws.AcceptOptions) target {
	t.Helper()
	addr := testpeer.Serve(t, testpeer.Listen(t), func(ctx context.Context, nc net.Conn) {
		u, err := ws.ReadUpgrade(ctx, nc, opts)
		if err != nil {
			return // ReadUpgrade answered and closed nc
		}
		c, err := u.Accept(ctx, u.SelectSubprotocol(), "", nil)
		if err != nil {
			_ = nc.Close()
			return
		}
		_ = echo.Serve(ctx, c)
	})
	return target{name: "raw", addr: addr}
}

// frame is a frame as the fuzzing client sends it, byte for byte.
type frame struct {
	fin     bool
	rsv     byte // 3 bits as Autobahn numbers them: 4 = RSV1, 2 = RSV2, 1 = RSV3
	op      byte // any 4-bit value, reserved ones included
	payload []byte
	// chop writes the encoded frame in pieces of this many bytes, each
	// its own write (Autobahn's chopsize); 0 writes it whole.
	chop int
	// sync writes the frame on its own and pauses briefly after it, so
	// that it travels in its own TCP segment (Autobahn's sync=True).
	sync bool
	// pause waits this long before the frame is written (Autobahn's
	// continueLater).
	pause time.Duration
	// unmasked sends the frame without masking (a client must mask).
	unmasked bool
}

// client is a raw WebSocket client connection.
type client struct {
	t        *testing.T
	nc       net.Conn
	br       *bufio.Reader
	rng      *rand.Rand
	writeErr error // first failed write: the server may have closed already
	timeout  time.Duration

	// reassembly of the server's fragmented messages
	msgOp  byte
	msg    []byte
	inMsg  bool
	closed bool // the server's close frame was read
}

// dial opens a TCP connection to tg and performs the opening handshake,
// checking the server's 101 answer (RFC 6455 §4.2.2) independently of
// package ws.
func dial(t *testing.T, tg target, timeout time.Duration) *client {
	t.Helper()
	return dialEarly(t, tg, timeout, nil)
}

// dialEarly is dial, but writes the frames early makes right behind the
// handshake request, in the same write, before the server's answer.
func dialEarly(t *testing.T, tg target, timeout time.Duration, early func(c *client) []byte) *client {
	t.Helper()
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	seed := h.Sum64()
	c := &client{t: t, rng: rand.New(rand.NewPCG(seed, 0x6455)), timeout: timeout}
	nc, err := net.DialTimeout("tcp", tg.addr, timeout)
	if err != nil {
		t.Fatalf("dial %s: %v", tg.addr, err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	c.nc = nc
	_ = nc.SetDeadline(time.Now().Add(timeout))
	var k [16]byte
	for i := range k {
		k[i] = byte(c.rng.Uint32())
	}
	key := base64.StdEncoding.EncodeToString(k[:])
	req := "GET /conformance HTTP/1.1\r\nHost: " + tg.addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	wire := []byte(req)
	if early != nil {
		wire = append(wire, early(c)...)
	}
	if _, err := nc.Write(wire); err != nil {
		t.Fatalf("writing handshake: %v", err)
	}
	c.br = bufio.NewReaderSize(nc, 64<<10)
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatalf("reading handshake response: %v", err)
	}
	_ = resp.Body.Close()
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	switch {
	case resp.StatusCode != http.StatusSwitchingProtocols:
		t.Fatalf("handshake: status %s, want 101", resp.Status)
	case !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket"):
		t.Fatalf("handshake: Upgrade %q", resp.Header.Get("Upgrade"))
	case !strings.EqualFold(resp.Header.Get("Connection"), "upgrade"):
		t.Fatalf("handshake: Connection %q", resp.Header.Get("Connection"))
	case resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]):
		t.Fatalf("handshake: Sec-WebSocket-Accept %q is wrong", resp.Header.Get("Sec-WebSocket-Accept"))
	case resp.Header.Get("Sec-WebSocket-Extensions") != "":
		t.Fatalf("handshake: extensions %q negotiated though none was offered", resp.Header.Get("Sec-WebSocket-Extensions"))
	}
	return c
}

// encode builds f on the wire: the shortest length encoding, masked with
// a key from the case's random source unless f.unmasked.
func (c *client) encode(dst []byte, f frame) []byte {
	b0 := f.op&0x0f | (f.rsv&7)<<4
	if f.fin {
		b0 |= 0x80
	}
	var mbit byte = 0x80
	if f.unmasked {
		mbit = 0
	}
	n := len(f.payload)
	switch {
	case n <= 125:
		dst = append(dst, b0, mbit|byte(n))
	case n <= 0xffff:
		dst = append(dst, b0, mbit|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, b0, mbit|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	if f.unmasked {
		return append(dst, f.payload...)
	}
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], c.rng.Uint32())
	dst = append(dst, key[:]...)
	start := len(dst)
	dst = append(dst, f.payload...)
	for i := range dst[start:] {
		dst[start+i] ^= key[i&3]
	}
	return dst
}

// send writes frames as their chop, sync and pause fields say. Runs of
// plain frames go out in one write. A failed write is recorded, not
// fatal: the server may rightly have failed the connection already.
func (c *client) send(frames ...frame) {
	var buf []byte
	flush := func() {
		if len(buf) > 0 {
			c.write(buf)
			buf = buf[:0]
		}
	}
	for _, f := range frames {
		if f.pause > 0 {
			flush()
			time.Sleep(f.pause)
		}
		if f.chop == 0 && !f.sync {
			buf = c.encode(buf, f)
			continue
		}
		flush()
		b := c.encode(nil, f)
		if f.chop > 0 {
			for len(b) > 0 {
				m := min(f.chop, len(b))
				c.write(b[:m])
				b = b[m:]
			}
		} else {
			c.write(b)
		}
		if f.sync {
			time.Sleep(2 * time.Millisecond)
		}
	}
	flush()
}

// write writes raw bytes, keeping the first error.
func (c *client) write(b []byte) {
	if c.writeErr != nil {
		return
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
	if _, err := c.nc.Write(b); err != nil {
		c.writeErr = err
	}
}

// rframe is a frame received from the server.
type rframe struct {
	fin     bool
	rsv     byte
	op      byte
	masked  bool
	payload []byte
}

// readFrame reads one frame from the server and checks what RFC 6455 §5
// demands of every server frame: unmasked, no reserved bits (no extension
// was negotiated), a defined opcode, control frames final and short.
func (c *client) readFrame() (rframe, error) {
	t := c.t
	t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(c.timeout))
	var hdr [14]byte
	if _, err := io.ReadFull(c.br, hdr[:2]); err != nil {
		return rframe{}, err
	}
	f := rframe{fin: hdr[0]&0x80 != 0, rsv: hdr[0] >> 4 & 7, op: hdr[0] & 0xf, masked: hdr[1]&0x80 != 0}
	n := uint64(hdr[1] & 0x7f)
	switch n {
	case 126:
		if _, err := io.ReadFull(c.br, hdr[2:4]); err != nil {
			return rframe{}, err
		}
		n = uint64(binary.BigEndian.Uint16(hdr[2:4]))
		if n < 126 {
			t.Errorf("server frame: length %d not minimally encoded", n)
		}
	case 127:
		if _, err := io.ReadFull(c.br, hdr[2:10]); err != nil {
			return rframe{}, err
		}
		n = binary.BigEndian.Uint64(hdr[2:10])
		if n <= 0xffff || n > 1<<40 {
			t.Fatalf("server frame: bad 64-bit length %d", n)
		}
	}
	if f.masked {
		t.Fatalf("server frame is masked (RFC 6455 §5.1)")
	}
	if f.rsv != 0 {
		t.Fatalf("server frame has reserved bits 0x%x set", f.rsv)
	}
	switch f.op {
	case opCont, opText, opBinary, opClose, opPing, opPong:
	default:
		t.Fatalf("server frame has reserved opcode 0x%x", f.op)
	}
	if f.op >= opClose && (!f.fin || n > 125) {
		t.Fatalf("server control frame 0x%x: fin=%v length %d", f.op, f.fin, n)
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(c.br, f.payload); err != nil {
		return rframe{}, fmt.Errorf("frame payload: %w", err)
	}
	return f, nil
}

// event is what the client observed: a whole message, a pong, a ping or
// the server's close frame.
type event struct {
	kind    string // "message", "pong", "ping", "close"
	op      byte   // message type
	payload []byte
	code    int // close code; -1 for a close frame without payload
	reason  string
}

func msgEv(op byte, p []byte) event { return event{kind: "message", op: op, payload: p} }
func textEv(s string) event         { return msgEv(opText, []byte(s)) }
func pongEv(p []byte) event         { return event{kind: "pong", payload: p} }

func (e event) String() string {
	switch e.kind {
	case "close":
		return fmt.Sprintf("close(%d, %q)", e.code, e.reason)
	case "message":
		typ := "text"
		if e.op == opBinary {
			typ = "binary"
		}
		return fmt.Sprintf("%s message of %d bytes %s", typ, len(e.payload), abbrev(e.payload))
	}
	return fmt.Sprintf("%s %s", e.kind, abbrev(e.payload))
}

func abbrev(p []byte) string {
	if len(p) > 24 {
		return fmt.Sprintf("%q…", p[:24])
	}
	return fmt.Sprintf("%q", p)
}

// next returns the next event, reassembling fragmented messages and
// checking their fragmentation and, for text, their UTF-8.
func (c *client) next() (event, error) {
	t := c.t
	t.Helper()
	for {
		f, err := c.readFrame()
		if err != nil {
			return event{}, err
		}
		if c.closed {
			t.Fatalf("server sent a frame (opcode 0x%x) after its close frame", f.op)
		}
		switch f.op {
		case opPing:
			return event{kind: "ping", payload: f.payload}, nil
		case opPong:
			return event{kind: "pong", payload: f.payload}, nil
		case opClose:
			c.closed = true
			e := event{kind: "close", code: -1}
			switch len(f.payload) {
			case 0:
			case 1:
				t.Fatalf("server close frame with a 1-byte payload")
			default:
				e.code = int(binary.BigEndian.Uint16(f.payload))
				e.reason = string(f.payload[2:])
				if !utf8.Valid(f.payload[2:]) {
					t.Fatalf("server close reason is not UTF-8: %q", f.payload[2:])
				}
			}
			return e, nil
		case opText, opBinary:
			if c.inMsg {
				t.Fatalf("server started a new message inside a fragmented one")
			}
			c.msgOp, c.msg, c.inMsg = f.op, f.payload, true
		case opCont:
			if !c.inMsg {
				t.Fatalf("server sent a continuation frame without a message")
			}
			c.msg = append(c.msg, f.payload...)
		}
		if f.fin {
			c.inMsg = false
			if c.msgOp == opText && !utf8.Valid(c.msg) {
				t.Fatalf("server sent a text message that is not UTF-8")
			}
			return msgEv(c.msgOp, c.msg), nil
		}
	}
}

// expectEvents reads events and requires exactly want, in order.
func (c *client) expectEvents(want ...event) {
	t := c.t
	t.Helper()
	for i, w := range want {
		got, err := c.next()
		if err != nil {
			t.Fatalf("event %d: want %v, got error %v (write error: %v)", i+1, w, err, c.writeErr)
		}
		if !sameEvent(got, w) {
			t.Fatalf("event %d: want %v, got %v", i+1, w, got)
		}
	}
}

func sameEvent(a, b event) bool {
	if a.kind != b.kind || !bytes.Equal(a.payload, b.payload) {
		return false
	}
	switch a.kind {
	case "message":
		return a.op == b.op
	case "close":
		return a.code == b.code && a.reason == b.reason
	}
	return true
}

// expectClose reads the next event and requires the server's close frame
// with code (-1: a close frame without payload). It returns the frame.
func (c *client) expectClose(code int) event {
	t := c.t
	t.Helper()
	got, err := c.next()
	if err != nil {
		t.Fatalf("want close frame with code %d, got error %v (write error: %v)", code, err, c.writeErr)
	}
	if got.kind != "close" {
		t.Fatalf("want close frame with code %d, got %v", code, got)
	}
	if got.code != code {
		t.Fatalf("want close code %d, got %v", code, got)
	}
	return got
}

// expectTCPClosed requires the server to close the TCP connection now
// (RFC 6455 §7.1.1: the server closes first): the next read ends with
// EOF, or with a reset when the server closed with our bytes unread
// (allowReset), and nothing but that.
func (c *client) expectTCPClosed(allowReset bool) {
	t := c.t
	t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(c.timeout))
	var b [1]byte
	n, err := c.br.Read(b[:])
	switch {
	case n > 0:
		t.Fatalf("server sent data after its close frame: 0x%02x", b[0])
	case errors.Is(err, io.EOF):
	case allowReset && errors.Is(err, syscall.ECONNRESET):
	case errors.Is(err, syscall.ECONNRESET):
		t.Fatalf("server reset the connection instead of closing it: %v", err)
	default:
		t.Fatalf("server did not close the TCP connection: %v", err)
	}
}

// expectOpen requires that the server neither sends anything nor closes
// within d (the connection is still open, as Autobahn's "timeout" marks).
func (c *client) expectOpen(d time.Duration) {
	t := c.t
	t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	_, err := c.br.Peek(1)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("want the connection open and quiet for %v, got %v", d, err)
	}
}

// closePayload encodes a close frame's payload.
func closePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// repeat returns n bytes of pat repeated (Autobahn's payload_len).
func repeat(pat string, n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += len(pat) {
		copy(b[i:], pat)
	}
	return b
}
