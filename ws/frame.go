package ws

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// MaxHeaderSize is the largest encoded frame header: 2 bytes, an 8-byte
// extended length and a 4-byte masking key (RFC 6455 §5.2).
const MaxHeaderSize = 14

// MaxControlPayload is the largest payload of a control frame (RFC 6455 §5.5).
const MaxControlPayload = 125

// Reserved bits of the first header byte, as stored in Header.Rsv.
const (
	Rsv1 byte = 0x4
	Rsv2 byte = 0x2
	Rsv3 byte = 0x1
)

// Header is a decoded WebSocket frame header (RFC 6455 §5.2). The payload
// follows it on the wire and is streamed separately.
type Header struct {
	Fin    bool   // final fragment of a message
	Rsv    byte   // reserved bits: Rsv1|Rsv2|Rsv3 (0 unless an extension uses them)
	OpCode OpCode // frame opcode
	Masked bool   // payload is masked with Mask (client-to-server frames)
	Mask   [4]byte
	Length int64 // payload length in bytes
}

// ErrHeader is wrapped by every error ReadHeader and PutHeader return for a
// malformed header.
var ErrHeader = errors.New("ws: malformed frame header")

// ReadHeader reads one frame header from r into h, using buf as scratch
// space so that nothing is allocated. It checks only what the encoding
// itself demands (minimal length encoding is not required, the most
// significant bit of a 64-bit length must be 0); protocol rules such as
// control-frame size are checked by the caller (Conn does, see Validate).
// An io.EOF before the first byte is returned as io.EOF; a header cut short
// returns io.ErrUnexpectedEOF.
func ReadHeader(r io.Reader, buf *[MaxHeaderSize]byte) (Header, error) {
	var h Header
	if _, err := io.ReadFull(r, buf[:2]); err != nil {
		return h, err
	}
	b0, b1 := buf[0], buf[1]
	h.Fin = b0&0x80 != 0
	h.Rsv = (b0 >> 4) & 0x7
	h.OpCode = OpCode(b0 & 0x0f)
	h.Masked = b1&0x80 != 0
	n := 0
	switch l := b1 & 0x7f; l {
	case 126:
		n = 2
	case 127:
		n = 8
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		n += 4
	}
	if n == 0 {
		return h, nil
	}
	if _, err := io.ReadFull(r, buf[2:2+n]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return h, err
	}
	p := buf[2 : 2+n]
	switch b1 & 0x7f {
	case 126:
		h.Length = int64(binary.BigEndian.Uint16(p))
		p = p[2:]
	case 127:
		l := binary.BigEndian.Uint64(p)
		if l>>63 != 0 {
			return h, fmt.Errorf("%w: 64-bit payload length has its most significant bit set", ErrHeader)
		}
		h.Length = int64(l)
		p = p[8:]
	}
	if h.Masked {
		copy(h.Mask[:], p)
	}
	return h, nil
}

// PutHeader encodes h into buf and returns the number of bytes used, with
// the shortest length encoding. It fails for a negative length, an opcode
// above 0xF or reserved bits outside Rsv1|Rsv2|Rsv3.
func PutHeader(buf *[MaxHeaderSize]byte, h Header) (int, error) {
	if h.Length < 0 {
		return 0, fmt.Errorf("%w: negative payload length %d", ErrHeader, h.Length)
	}
	if h.OpCode > 0xf || h.Rsv > 0x7 {
		return 0, fmt.Errorf("%w: opcode 0x%x or reserved bits 0x%x out of range", ErrHeader, byte(h.OpCode), h.Rsv)
	}
	b0 := byte(h.OpCode) | h.Rsv<<4
	if h.Fin {
		b0 |= 0x80
	}
	buf[0] = b0
	var b1 byte
	if h.Masked {
		b1 = 0x80
	}
	n := 2
	switch {
	case h.Length <= 125:
		buf[1] = b1 | byte(h.Length)
	case h.Length <= 0xffff:
		buf[1] = b1 | 126
		binary.BigEndian.PutUint16(buf[2:], uint16(h.Length))
		n = 4
	default:
		buf[1] = b1 | 127
		binary.BigEndian.PutUint64(buf[2:], uint64(h.Length))
		n = 10
	}
	if h.Masked {
		copy(buf[n:], h.Mask[:])
		n += 4
	}
	return n, nil
}

// WriteHeader encodes h with PutHeader into buf and writes it to w.
func WriteHeader(w io.Writer, buf *[MaxHeaderSize]byte, h Header) error {
	n, err := PutHeader(buf, h)
	if err != nil {
		return err
	}
	_, err = w.Write(buf[:n])
	return err
}
