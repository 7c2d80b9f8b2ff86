package ws_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/ws"
)

// fakeConn is an in-memory net.Conn for allocation tests and in-memory
// benchmarks. Reads serve head once, then loop forever (never io.EOF), so
// a pre-built frame stream can be read for as long as a test wants.
// Writes are discarded, except that the first write of a client handshake
// request is answered with a matching 101 response. Unlike net.Pipe it
// never blocks. It is used by one goroutine at a time.
type fakeConn struct {
	head   []byte
	loop   loopReader
	client bool // answer the handshake request of a client
}

func (c *fakeConn) Read(p []byte) (int, error) {
	if len(c.head) > 0 {
		n := copy(p, c.head)
		c.head = c.head[n:]
		return n, nil
	}
	if len(c.loop.data) == 0 {
		// Nothing to serve: behave like an idle peer that never sends.
		select {}
	}
	return c.loop.Read(p)
}

func (c *fakeConn) Write(p []byte) (int, error) {
	if c.client {
		c.client = false
		const k = "Sec-WebSocket-Key: "
		i := bytes.Index(p, []byte(k))
		if i < 0 {
			panic("fakeConn: first client write is not a handshake request")
		}
		key, _, _ := strings.Cut(string(p[i+len(k):]), "\r\n")
		c.head = []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + ws.AcceptKey(key) + "\r\n\r\n")
	}
	return len(p), nil
}

func (c *fakeConn) Close() error                     { return nil }
func (c *fakeConn) LocalAddr() net.Addr              { return fakeAddr }
func (c *fakeConn) RemoteAddr() net.Addr             { return fakeAddr }
func (c *fakeConn) SetDeadline(time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }

var fakeAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}

// fakeServer returns a server Conn, upgraded from a raw in-memory
// connection, that reads stream over and over after the handshake.
func fakeServer(tb testing.TB, stream []byte) *ws.Conn {
	tb.Helper()
	req := "GET /x HTTP/1.1\r\nHost: fake.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	return acceptOn(tb, &fakeConn{head: []byte(req), loop: loopReader{data: stream}})
}

// acceptOn reads a client's upgrade request from nc and accepts it with
// the default options.
func acceptOn(tb testing.TB, nc net.Conn) *ws.Conn {
	tb.Helper()
	u, err := ws.ReadUpgrade(context.Background(), nc, nil)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := u.Accept(context.Background(), "", "", nil)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// fakeClient returns a client Conn, dialled over an in-memory connection,
// that reads stream over and over after the handshake.
func fakeClient(tb testing.TB, stream []byte) *ws.Conn {
	tb.Helper()
	nc := &fakeConn{loop: loopReader{data: stream}, client: true}
	dial := func(context.Context, string, string) (net.Conn, error) { return nc, nil }
	c, _, err := ws.Dial(context.Background(), "ws://fake.test/x", &ws.DialOptions{NetDial: dial})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// frameStream encodes count copies of one frame with the given payload,
// masked (as a client sends) when masked is set.
func frameStream(tb testing.TB, op ws.OpCode, payload []byte, masked bool, count int) []byte {
	tb.Helper()
	var out []byte
	var hb [ws.MaxHeaderSize]byte
	for i := range count {
		h := ws.Header{Fin: true, OpCode: op, Length: int64(len(payload)), Masked: masked}
		if masked {
			h.Mask = [4]byte{0x11, 0x22, 0x33, byte(i)}
		}
		n, err := ws.PutHeader(&hb, h)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, hb[:n]...)
		p := append([]byte(nil), payload...)
		if masked {
			ws.Mask(h.Mask, 0, p)
		}
		out = append(out, p...)
	}
	return out
}
