package ws_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/ws"
)

// pair returns a connected client and server over real loopback TCP.
func pair(t *testing.T, sopts *ws.AcceptOptions, copts *ws.DialOptions) (client, server *ws.Conn) {
	t.Helper()
	a, b := testpeer.TCPPair(t)
	ch := acceptAsync(context.Background(), b, sopts, func(u *ws.Upgrade) (*ws.Conn, error) {
		return u.Accept(context.Background(), u.SelectSubprotocol(), "", nil)
	})
	var o ws.DialOptions
	if copts != nil {
		o = *copts
	}
	o.NetDial = func(context.Context, string, string) (net.Conn, error) { return a, nil }
	client, _, err := ws.Dial(context.Background(), "ws://"+a.RemoteAddr().String()+"/path?q=1", &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Abort)
	return client, ch.conn(t)
}

// accepted is the server side of a handshake run by acceptAsync.
type accepted struct {
	c   *ws.Conn
	err error
}

// acceptance is where acceptAsync's outcome comes.
type acceptance <-chan accepted

// conn waits for the accepted connection, failing t if the handshake
// failed, and aborts it when the test ends.
func (ch acceptance) conn(t *testing.T) *ws.Conn {
	t.Helper()
	r := <-ch
	if r.err != nil {
		t.Fatalf("server side: %v", r.err)
	}
	t.Cleanup(r.c.Abort)
	return r.c
}

// acceptAsync reads a handshake from nc (ws.ReadUpgrade with ctx and
// opts) and answers it with accept, in the background.
func acceptAsync(ctx context.Context, nc net.Conn, opts *ws.AcceptOptions, accept func(u *ws.Upgrade) (*ws.Conn, error)) acceptance {
	ch := make(chan accepted, 1)
	go func() {
		u, err := ws.ReadUpgrade(ctx, nc, opts)
		if err != nil {
			ch <- accepted{nil, err}
			return
		}
		c, err := accept(u)
		ch <- accepted{c, err}
	}()
	return ch
}

// rawPeer is the far end of a connection that speaks raw bytes, so tests
// can send frames a conforming endpoint never would.
type rawPeer struct {
	t      *testing.T
	nc     net.Conn
	br     *bufio.Reader
	client bool // the raw peer plays the client: its frames are masked
}

// rawClient connects a raw client to a ws server built with opts and
// returns the server-side Conn.
func rawClient(t *testing.T, opts *ws.AcceptOptions) (*rawPeer, *ws.Conn) {
	t.Helper()
	a, b := testpeer.TCPPair(t)
	ch := acceptAsync(context.Background(), b, opts, func(u *ws.Upgrade) (*ws.Conn, error) {
		return u.Accept(context.Background(), "", "", nil)
	})
	fmt.Fprintf(a, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	p := &rawPeer{t: t, nc: a, br: bufio.NewReader(a), client: true}
	resp, err := http.ReadResponse(p.br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("raw handshake: %v %v", resp, err)
	}
	return p, ch.conn(t)
}

// rawPeerOf returns a Conn with options o playing role ("server" or
// "client") and the raw peer at its other end.
func rawPeerOf(t *testing.T, role string, o ws.Options) (*rawPeer, *ws.Conn) {
	t.Helper()
	if role == "server" {
		return rawClient(t, &ws.AcceptOptions{Options: o})
	}
	return rawServer(t, &ws.DialOptions{Options: o})
}

// rawServer answers a ws client's handshake by hand and returns the
// client-side Conn.
func rawServer(t *testing.T, opts *ws.DialOptions) (*rawPeer, *ws.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan *rawPeer, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			ch <- nil
			return
		}
		br := bufio.NewReader(nc)
		req, err := http.ReadRequest(br)
		if err != nil {
			ch <- nil
			return
		}
		fmt.Fprintf(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", ws.AcceptKey(req.Header.Get("Sec-WebSocket-Key")))
		ch <- &rawPeer{t: t, nc: nc, br: br}
	}()
	c, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/", opts)
	if err != nil {
		t.Fatal(err)
	}
	p := <-ch
	if p == nil {
		t.Fatal("raw server failed")
	}
	t.Cleanup(func() { c.Abort(); p.nc.Close() })
	return p, c
}

// frame builds raw frame bytes: b0 is the first byte (FIN, RSV, opcode).
func (p *rawPeer) frame(b0 byte, payload []byte) []byte {
	var out []byte
	out = append(out, b0)
	mask := byte(0)
	if p.client {
		mask = 0x80
	}
	switch l := len(payload); {
	case l <= 125:
		out = append(out, mask|byte(l))
	case l <= 65535:
		out = append(out, mask|126)
		out = binary.BigEndian.AppendUint16(out, uint16(l))
	default:
		out = append(out, mask|127)
		out = binary.BigEndian.AppendUint64(out, uint64(l))
	}
	if p.client {
		key := [4]byte{0xa1, 0xb2, 0xc3, 0xd4}
		out = append(out, key[:]...)
		start := len(out)
		out = append(out, payload...)
		ws.Mask(key, 0, out[start:])
	} else {
		out = append(out, payload...)
	}
	return out
}

func (p *rawPeer) send(b0 byte, payload []byte) {
	p.t.Helper()
	if _, err := p.nc.Write(p.frame(b0, payload)); err != nil {
		p.t.Fatalf("raw send: %v", err)
	}
}

// read reads one raw frame (unmasking it) within a few seconds.
func (p *rawPeer) read() (ws.Header, []byte, error) {
	_ = p.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var buf [ws.MaxHeaderSize]byte
	h, err := ws.ReadHeader(p.br, &buf)
	if err != nil {
		return h, nil, err
	}
	payload := make([]byte, h.Length)
	if _, err := io.ReadFull(p.br, payload); err != nil {
		return h, nil, err
	}
	if h.Masked {
		ws.Mask(h.Mask, 0, payload)
	}
	return h, payload, nil
}

// expectClose reads frames until a close frame and returns its code, then
// checks that the connection ends.
func (p *rawPeer) expectClose() ws.StatusCode {
	p.t.Helper()
	for {
		h, payload, err := p.read()
		if err != nil {
			p.t.Fatalf("waiting for a close frame: %v", err)
		}
		if h.OpCode != ws.OpClose {
			continue
		}
		code, _, err := ws.ParseClosePayload(payload)
		if err != nil {
			p.t.Fatalf("bad close payload from ws: %v", err)
		}
		return code
	}
}

func wantCloseError(t *testing.T, err error, code ws.StatusCode) {
	t.Helper()
	var ce *ws.CloseError
	if !errors.As(err, &ce) || ce.Code != code {
		t.Fatalf("got error %v, want a close with %d", err, code)
	}
}

func wantProtocolError(t *testing.T, err error, code ws.StatusCode) {
	t.Helper()
	var pe *ws.ProtocolError
	if !errors.As(err, &pe) || pe.Code != code {
		t.Fatalf("got error %v, want a protocol error with %d", err, code)
	}
}

func ctxT(t *testing.T) context.Context { return testpeer.Context(t, 20*time.Second) }

var _ = strings.Repeat
