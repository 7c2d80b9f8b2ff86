package ws_test

import (
	"bytes"
	"context"
	"net"
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/ws"
)

// Every rule of RFC 6455 §5 and §7 a peer can break, with the close code
// the endpoint must answer. Frames are written raw by the test.
func TestStrictness(t *testing.T) {
	t.Parallel()
	type step struct {
		b0      byte
		payload []byte
	}
	fin := byte(0x80)
	finCont := fin // FIN with opcode 0: a final continuation frame
	cases := []struct {
		name  string
		steps []step
		code  ws.StatusCode
		limit int64 // frame and message limit, 0 = default
	}{
		{"rsv1 without extension", []step{{fin | 0x40 | 0x1, []byte("x")}}, 1002, 0},
		{"rsv2 without extension", []step{{fin | 0x20 | 0x2, []byte("x")}}, 1002, 0},
		{"rsv3 without extension", []step{{fin | 0x10 | 0x1, nil}}, 1002, 0},
		{"reserved data opcode 3", []step{{fin | 0x3, nil}}, 1002, 0},
		{"reserved data opcode 7", []step{{fin | 0x7, []byte("x")}}, 1002, 0},
		{"reserved control opcode 0xB", []step{{fin | 0xB, nil}}, 1002, 0},
		{"reserved control opcode 0xF", []step{{fin | 0xF, []byte("x")}}, 1002, 0},
		{"fragmented ping", []step{{0x9, []byte("x")}}, 1002, 0},
		{"fragmented close", []step{{0x8, []byte{3, 232}}}, 1002, 0},
		{"ping over 125 bytes", []step{{fin | 0x9, bytes.Repeat([]byte("p"), 126)}}, 1002, 0},
		{"pong over 125 bytes", []step{{fin | 0xA, bytes.Repeat([]byte("p"), 126)}}, 1002, 0},
		{"close over 125 bytes", []step{{fin | 0x8, append([]byte{3, 232}, bytes.Repeat([]byte("r"), 124)...)}}, 1002, 0},
		{"continuation without start", []step{{finCont, []byte("x")}}, 1002, 0},
		{"text inside fragmented message", []step{{0x1, []byte("a")}, {fin | 0x1, []byte("b")}}, 1002, 0},
		{"binary inside fragmented message", []step{{0x2, []byte("a")}, {fin | 0x2, []byte("b")}}, 1002, 0},
		{"close payload of 1 byte", []step{{fin | 0x8, []byte{3}}}, 1002, 0},
		{"close code 999", []step{{fin | 0x8, []byte{3, 231}}}, 1002, 0},
		{"close code 0", []step{{fin | 0x8, []byte{0, 0}}}, 1002, 0},
		{"close code 1004", []step{{fin | 0x8, []byte{3, 236}}}, 1002, 0},
		{"close code 1005", []step{{fin | 0x8, []byte{3, 237}}}, 1002, 0},
		{"close code 1006", []step{{fin | 0x8, []byte{3, 238}}}, 1002, 0},
		{"close code 1015", []step{{fin | 0x8, []byte{3, 247}}}, 1002, 0},
		{"close code 1016", []step{{fin | 0x8, []byte{3, 248}}}, 1002, 0},
		{"close code 2999", []step{{fin | 0x8, []byte{11, 183}}}, 1002, 0},
		{"close code 5000", []step{{fin | 0x8, []byte{19, 136}}}, 1002, 0},
		{"close reason not UTF-8", []step{{fin | 0x8, []byte{3, 232, 0xce, 0xba, 0xff}}}, 1007, 0},
		{"text not UTF-8", []step{{fin | 0x1, []byte("ok\xff")}}, 1007, 0},
		{"text surrogate", []step{{fin | 0x1, []byte("\xed\xa0\x80")}}, 1007, 0},
		{"text ends mid-character", []step{{0x1, []byte("ok")}, {finCont, []byte("\xce")}}, 1007, 0},
		{"text invalid across fragments", []step{{0x1, []byte("\xce")}, {finCont, []byte("\xff")}}, 1007, 0},
		{"text invalid in empty final fragment", []step{{0x1, []byte("a\xf0\x9f")}, {finCont, nil}}, 1007, 0},
		{"frame over limit", []step{{fin | 0x2, make([]byte, 101)}}, 1009, 100},
		{"message over limit", []step{{0x2, make([]byte, 60)}, {finCont, make([]byte, 60)}}, 1009, 100},
	}
	for _, tc := range cases {
		for _, role := range []string{"server", "client"} {
			t.Run(role+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				o := ws.Options{MaxIncomingFrameSize: tc.limit, MaxIncomingMessageSize: tc.limit}
				p, c := rawPeerOf(t, role, o)
				for _, s := range tc.steps {
					p.send(s.b0, s.payload)
				}
				_, _, err := c.ReadMessage(ctxT(t))
				wantProtocolError(t, err, tc.code)
				if got := p.expectClose(); got != tc.code {
					t.Fatalf("close frame sent with %d, want %d", got, tc.code)
				}
				if code, _ := c.CloseStatus(); code != tc.code {
					t.Fatalf("CloseStatus %d, want %d", code, tc.code)
				}
				if c.State() != ws.StateClosed {
					t.Fatalf("state %v after failing", c.State())
				}
				// The TCP connection is closed after the close frame.
				if _, _, err := p.read(); err == nil {
					t.Fatal("connection still open after failing it")
				}
			})
		}
	}
}

// A frame masked the wrong way for its direction fails the connection
// with 1002 (RFC 6455 §5.1): unmasked to a server, masked to a client.
func TestMaskingDirection(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, role string }{
		{"unmasked frame to server", "server"},
		{"masked frame to client", "client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, c := rawPeerOf(t, tc.role, ws.Options{})
			p.client = tc.role == "client" // masks only toward a client: the wrong way
			p.send(0x81, []byte("hi"))
			_, _, err := c.ReadMessage(ctxT(t))
			wantProtocolError(t, err, 1002)
		})
	}
}

// Control frames may arrive between the fragments of a message.
func TestControlInterleavedWithFragments(t *testing.T) {
	t.Parallel()
	p, c := rawClient(t, nil)
	var pings [][]byte
	p.send(0x01, []byte("fra"))
	p.send(0x89, []byte("ping-1"))
	p.send(0x00, []byte("gm\xc3"))
	p.send(0x8A, []byte("unsolicited pong"))
	p.send(0x80, []byte("\xa9nt"))
	typ, msg, err := c.ReadMessage(ctxT(t))
	if err != nil || typ != ws.MessageText || string(msg) != "fragm\u00e9nt" {
		t.Fatalf("got %v %q %v", typ, msg, err)
	}
	h, payload, err := p.read()
	if err != nil || h.OpCode != ws.OpPong || string(payload) != "ping-1" || h.Masked {
		t.Fatalf("auto pong: %+v %q %v", h, payload, err)
	}
	_ = pings
}

// Reserved bits pass when an extension was negotiated: the relay case.
func TestReservedBitsWithExtension(t *testing.T) {
	t.Parallel()
	a, b := testpeer.TCPPair(t)
	ch := acceptAsync(ctxT(t), b, nil, func(u *ws.Upgrade) (*ws.Conn, error) {
		return u.Accept(ctxT(t), "", u.Extensions, nil)
	})
	c, _, err := ws.Dial(ctxT(t), "ws://x/", &ws.DialOptions{
		Extensions: "permessage-deflate; client_max_window_bits",
		NetDial:    func(ctx context.Context, _, _ string) (net.Conn, error) { return a, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort()
	s := ch.conn(t)
	if c.Extensions() != "permessage-deflate; client_max_window_bits" {
		t.Fatalf("extensions %q", c.Extensions())
	}
	// Compressed-looking text with RSV1 is passed through, not checked as UTF-8.
	go c.WriteFrame(ctxT(t), ws.Header{Fin: true, Rsv: ws.Rsv1, OpCode: ws.OpText}, []byte{0xff, 0x00, 0x01})
	h, r, err := s.NextFrame(ctxT(t))
	if err != nil || h.Rsv != ws.Rsv1 || h.OpCode != ws.OpText {
		t.Fatalf("frame %+v %v", h, err)
	}
	buf := make([]byte, 10)
	n, _ := r.Read(buf)
	if !bytes.Equal(buf[:n], []byte{0xff, 0x00, 0x01}) {
		t.Fatalf("payload %x", buf[:n])
	}
}
