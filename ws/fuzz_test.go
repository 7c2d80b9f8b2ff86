package ws_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wssproxy/wssproxy/ws"
)

// FuzzReadHeader decodes arbitrary bytes as a frame header and checks the
// result against an independent decoding of RFC 6455 §5.2, then that
// PutHeader re-encodes it (minimally) to a header that decodes the same.
func FuzzReadHeader(f *testing.F) {
	for _, h := range []ws.Header{
		{Fin: true, OpCode: ws.OpText, Length: 5},
		{Fin: true, OpCode: ws.OpBinary, Masked: true, Mask: [4]byte{1, 2, 3, 4}, Length: 125},
		{OpCode: ws.OpText, Length: 126},
		{Fin: true, OpCode: ws.OpContinuation, Masked: true, Length: 65535},
		{Fin: true, OpCode: ws.OpBinary, Length: 65536},
		{Fin: true, OpCode: ws.OpBinary, Masked: true, Length: 1<<63 - 1},
		{Fin: true, Rsv: ws.Rsv1 | ws.Rsv3, OpCode: ws.OpClose, Length: 2},
		{Fin: true, OpCode: 0xB, Masked: true},
	} {
		var buf [ws.MaxHeaderSize]byte
		n, err := ws.PutHeader(&buf, h)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(buf[:n])
	}
	f.Add([]byte{})
	f.Add([]byte{0x81})
	f.Add([]byte{0x82, 0x7e, 0x00})
	f.Add([]byte{0x82, 0x7e, 0x00, 0x05})                            // non-minimal 16-bit length
	f.Add([]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}) // length MSB set
	f.Add([]byte{0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0, 7})                // non-minimal 64-bit length
	f.Add([]byte{0x89, 0x80, 1, 2})                                  // mask cut short
	f.Fuzz(func(t *testing.T, b []byte) {
		var buf [ws.MaxHeaderSize]byte
		r := bytes.NewReader(b)
		h, err := ws.ReadHeader(r, &buf)
		consumed := len(b) - r.Len()

		// Independent decoding.
		want, size, complete, msb := decodeHeader(b)
		if err != nil {
			switch {
			case len(b) == 0:
				if err != io.EOF {
					t.Fatalf("empty input: %v, want io.EOF", err)
				}
			case !complete:
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("%x: truncated header gave %v, want io.ErrUnexpectedEOF", b, err)
				}
			case msb:
				if !errors.Is(err, ws.ErrHeader) {
					t.Fatalf("%x: length with MSB set gave %v, want ErrHeader", b, err)
				}
			default:
				t.Fatalf("%x: unexpected error %v", b, err)
			}
			return
		}
		if !complete || msb {
			t.Fatalf("%x: accepted (%+v), want an error (complete=%v msb=%v)", b, h, complete, msb)
		}
		if h != want {
			t.Fatalf("%x: got %+v, want %+v", b, h, want)
		}
		if consumed != size {
			t.Fatalf("%x: consumed %d bytes, header is %d", b, consumed, size)
		}
		var out [ws.MaxHeaderSize]byte
		n, err := ws.PutHeader(&out, h)
		if err != nil {
			t.Fatalf("PutHeader(%+v): %v", h, err)
		}
		if n > size {
			t.Fatalf("PutHeader used %d bytes, the input only %d", n, size)
		}
		if minimal(h.Length, b[1]&0x7f) && !bytes.Equal(out[:n], b[:size]) {
			t.Fatalf("re-encoded %x, want %x", out[:n], b[:size])
		}
		h2, err := ws.ReadHeader(bytes.NewReader(out[:n]), &buf)
		if err != nil || h2 != h {
			t.Fatalf("round trip: %+v, %v; want %+v", h2, err, h)
		}
	})
}

// decodeHeader decodes a frame header from b as RFC 6455 §5.2 describes
// it: the header, its size, whether b holds all of it, and whether its
// 64-bit length has the most significant bit set.
func decodeHeader(b []byte) (h ws.Header, size int, complete, msb bool) {
	if len(b) < 2 {
		return h, 0, false, false
	}
	h.Fin = b[0]&0x80 != 0
	h.Rsv = b[0] >> 4 & 7
	h.OpCode = ws.OpCode(b[0] & 0xf)
	h.Masked = b[1]&0x80 != 0
	size = 2
	switch l := b[1] & 0x7f; l {
	case 126:
		size += 2
	case 127:
		size += 8
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		size += 4
	}
	if len(b) < size {
		return h, size, false, false
	}
	switch b[1] & 0x7f {
	case 126:
		h.Length = int64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		l := binary.BigEndian.Uint64(b[2:])
		if l>>63 != 0 {
			return h, size, true, true
		}
		h.Length = int64(l)
	}
	if h.Masked {
		copy(h.Mask[:], b[size-4:size])
	}
	return h, size, true, false
}

// minimal reports whether a length was sent in its shortest encoding.
func minimal(n int64, l7 byte) bool {
	switch l7 {
	case 126:
		return n > 125
	case 127:
		return n > 0xffff
	}
	return true
}

// FuzzParseClosePayload checks ParseClosePayload against RFC 6455 §5.5.1
// and §7.4 (the valid codes, 125 bytes, a UTF-8 reason), and that a
// payload it accepts is re-encoded byte for byte by AppendClosePayload.
func FuzzParseClosePayload(f *testing.F) {
	for _, seed := range [][]byte{
		{}, {0x03}, {0x03, 0xe8}, append([]byte{0x03, 0xe8}, "bye"...),
		{0x03, 0xed}, {0x03, 0xe7}, {0x13, 0x87}, {0x13, 0x88}, {0xff, 0xff}, {0x03, 0xf7},
		append([]byte{0x0f, 0xa0}, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"...),
		append([]byte{0x03, 0xe8}, strings.Repeat("*", 123)...),
		append([]byte{0x03, 0xe8}, strings.Repeat("*", 124)...),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		code, reason, err := ws.ParseClosePayload(p)
		var wantErr ws.StatusCode
		switch {
		case len(p) == 0:
			if err != nil || code != ws.StatusNoStatusReceived || reason != "" {
				t.Fatalf("empty payload: %d %q %v", code, reason, err)
			}
			return
		case len(p) == 1 || len(p) > 125:
			wantErr = ws.StatusProtocolError
		default:
			c := binary.BigEndian.Uint16(p)
			valid := c >= 1000 && c <= 1003 || c >= 1007 && c <= 1014 || c >= 3000 && c <= 4999
			switch {
			case !valid:
				wantErr = ws.StatusProtocolError
			case !utf8.Valid(p[2:]):
				wantErr = ws.StatusInvalidFramePayloadData
			}
		}
		if wantErr != 0 {
			var perr *ws.ProtocolError
			if !errors.As(err, &perr) || perr.Code != wantErr {
				t.Fatalf("%x: got %d %q %v, want a protocol error with code %d", p, code, reason, err, wantErr)
			}
			return
		}
		if err != nil || uint16(code) != binary.BigEndian.Uint16(p) || reason != string(p[2:]) {
			t.Fatalf("%x: got %d %q %v", p, code, reason, err)
		}
		out, err := ws.AppendClosePayload(nil, code, reason)
		if err != nil || !bytes.Equal(out, p) {
			t.Fatalf("%x: re-encoded as %x, %v", p, out, err)
		}
	})
}

// fuzzConn is a net.Conn that reads a fixed input and records what is
// written, with no goroutines and no real network.
type fuzzConn struct {
	r      *bytes.Reader
	w      bytes.Buffer
	closed bool
}

var fuzzAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 6455}

func (c *fuzzConn) Read(p []byte) (int, error) {
	if c.closed {
		return 0, net.ErrClosed
	}
	return c.r.Read(p)
}

func (c *fuzzConn) Write(p []byte) (int, error) {
	if c.closed {
		return 0, net.ErrClosed
	}
	return c.w.Write(p)
}

func (c *fuzzConn) Close() error                     { c.closed = true; return nil }
func (c *fuzzConn) LocalAddr() net.Addr              { return fuzzAddr }
func (c *fuzzConn) RemoteAddr() net.Addr             { return fuzzAddr }
func (c *fuzzConn) SetDeadline(time.Time) error      { return nil }
func (c *fuzzConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fuzzConn) SetWriteDeadline(time.Time) error { return nil }

const fuzzKey = "dGhlIHNhbXBsZSBub25jZQ=="

func fuzzRequest(extra string) string {
	return "GET /chat?x=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
		"Sec-WebSocket-Key: " + fuzzKey + "\r\nSec-WebSocket-Version: 13\r\n" + extra + "\r\n"
}

// FuzzReadUpgrade feeds arbitrary bytes to ReadUpgrade as a raw
// connection's request. It must never panic, and must either answer an
// error status with a reason (or nothing, when nothing was sent) and close
// the connection, or leave a valid request unanswered for Accept, which then
// answers a correct 101; what follows the request is read as frames.
func FuzzReadUpgrade(f *testing.F) {
	mask := func(key [4]byte, p []byte) []byte {
		out := make([]byte, len(p))
		for i := range p {
			out[i] = p[i] ^ key[i&3]
		}
		return out
	}
	frames := append([]byte{0x81, 0x85, 1, 2, 3, 4}, mask([4]byte{1, 2, 3, 4}, []byte("hello"))...)
	frames = append(frames, 0x89, 0x80, 0, 0, 0, 0)
	frames = append(frames, 0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8)
	for _, seed := range []string{
		fuzzRequest(""),
		fuzzRequest("Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Extensions: permessage-deflate\r\nOrigin: http://example.com\r\n") + string(frames),
		fuzzRequest("") + string(frames),
		strings.Replace(fuzzRequest(""), "GET", "POST", 1),
		strings.Replace(fuzzRequest(""), "HTTP/1.1", "HTTP/1.0", 1),
		strings.Replace(fuzzRequest(""), "Version: 13", "Version: 8", 1),
		strings.Replace(fuzzRequest(""), fuzzKey, "c2hvcnQ=", 1),
		strings.Replace(fuzzRequest(""), "Upgrade: websocket\r\n", "", 1),
		fuzzRequest("Sec-WebSocket-Key: " + fuzzKey + "\r\n"),
		fuzzRequest("Content-Length: 5\r\n") + "hello",
		fuzzRequest("Transfer-Encoding: chunked\r\n") + "0\r\n\r\n",
		fuzzRequest("X-Big: " + strings.Repeat("a", 5000) + "\r\n"),
		"GET / HTTP/1.1\r\nHost: x\r\n",
		"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
		"",
	} {
		f.Add([]byte(seed))
	}
	for _, m := range malformedRequests {
		if len(m.req) < 4096 {
			f.Add([]byte(m.req))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		ctx := context.Background()
		nc := &fuzzConn{r: bytes.NewReader(in)}
		opts := &ws.AcceptOptions{Subprotocols: []string{"chat"}, MaxHeaderBytes: 4096, HandshakeTimeout: time.Second}
		u, err := ws.ReadUpgrade(ctx, nc, opts)
		if err != nil {
			if !errors.Is(err, ws.ErrBadHandshake) {
				t.Fatalf("error %v does not wrap ErrBadHandshake", err)
			}
			if !nc.closed {
				t.Fatal("refused connection left open")
			}
			var herr *ws.HandshakeError
			if !errors.As(err, &herr) {
				if nc.w.Len() != 0 {
					t.Fatalf("unreadable request answered with %q", nc.w.Bytes())
				}
				// Only a client that sent nothing goes unanswered.
				if len(in) != 0 {
					t.Fatalf("request %q refused without an answer: %v", in, err)
				}
				return
			}
			resp, rerr := http.ReadResponse(bufio.NewReader(bytes.NewReader(nc.w.Bytes())), nil)
			if rerr != nil {
				t.Fatalf("refusal %q is not an HTTP response: %v", nc.w.Bytes(), rerr)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != herr.Status || resp.StatusCode < 400 {
				t.Fatalf("refused with status %d, error says %d", resp.StatusCode, herr.Status)
			}
			if herr.Reason == "" {
				t.Fatalf("refused with %d without a reason", herr.Status)
			}
			return
		}
		if nc.w.Len() != 0 || nc.closed {
			t.Fatalf("valid request answered (%q) or closed before Accept", nc.w.Bytes())
		}
		key := u.Request.Header.Get("Sec-WebSocket-Key")
		if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
			t.Fatalf("accepted key %q", key)
		}
		sub := u.SelectSubprotocol()
		c, err := u.Accept(ctx, sub, "", nil)
		if err != nil {
			t.Fatalf("Accept: %v", err)
		}
		defer c.Abort()
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(nc.w.Bytes())), nil)
		if err != nil {
			t.Fatalf("101 answer %q: %v", nc.w.Bytes(), err)
		}
		sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) ||
			resp.Header.Get("Sec-WebSocket-Protocol") != sub {
			t.Fatalf("bad 101 answer %q", nc.w.Bytes())
		}
		// The rest of the input is frames: read until the connection ends.
		for range 64 {
			if _, _, err := c.ReadMessage(ctx); err != nil {
				break
			}
		}
	})
}

// FuzzTextFragments sends a text message of arbitrary bytes, fragmented at
// arbitrary points, to a server connection, and checks the incremental
// UTF-8 validation against utf8.Valid on the whole: the message is read
// intact if and only if it is valid, and otherwise the connection fails
// with 1007.
func FuzzTextFragments(f *testing.F) {
	f.Add([]byte("Hello-µ@ßöäüàá-UTF-8!!"), []byte{1, 1, 1, 5})
	f.Add([]byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"), []byte{12, 1})
	f.Add([]byte("\xf4\x90\x80\x80"), []byte{1, 0, 2})
	f.Add([]byte("\xef\xbf"), []byte{0})
	f.Add([]byte("\xf0\x9f\x98\x80\xf0\x9f\x98"), []byte{3, 3, 0, 1})
	f.Fuzz(func(t *testing.T, msg, cuts []byte) {
		if len(cuts) > 64 {
			cuts = cuts[:64]
		}
		in := []byte(fuzzRequest(""))
		key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
		rest, op := msg, byte(0x1)
		for i := 0; ; i++ {
			n := len(rest)
			if i < len(cuts) {
				n = min(n, int(cuts[i]))
			}
			fin := n == len(rest)
			b0 := op
			if fin {
				b0 |= 0x80
			}
			in = append(in, b0, 0x80|126)
			in = binary.BigEndian.AppendUint16(in, uint16(n))
			in = append(in, key[:]...)
			for j := range rest[:n] {
				in = append(in, rest[j]^key[j&3])
			}
			// A ping between fragments must not disturb the validation.
			if !fin && i%2 == 1 {
				in = append(in, 0x89, 0x80, 0, 0, 0, 0)
			}
			rest, op = rest[n:], 0
			if fin {
				break
			}
		}
		c := acceptOn(t, &fuzzConn{r: bytes.NewReader(in)})
		defer c.Abort()
		typ, got, err := c.ReadMessage(context.Background())
		if utf8.Valid(msg) {
			if err != nil || typ != ws.MessageText || !bytes.Equal(got, msg) {
				t.Fatalf("valid text %q: got %v %q %v", msg, typ, got, err)
			}
			return
		}
		var perr *ws.ProtocolError
		if !errors.As(err, &perr) || perr.Code != ws.StatusInvalidFramePayloadData || !errors.Is(err, ws.ErrInvalidUTF8) {
			t.Fatalf("invalid text %q: got %q, %v; want a 1007 protocol error", msg, got, err)
		}
		if code, _ := c.CloseStatus(); code != ws.StatusInvalidFramePayloadData {
			t.Fatalf("close status %d, want 1007", code)
		}
	})
}
