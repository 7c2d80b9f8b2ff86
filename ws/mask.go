package ws

import (
	"crypto/rand"
	"encoding/binary"
	"math/bits"
)

// Mask XORs b in place with the masking key (RFC 6455 §5.3), starting at
// position pos of the key stream, and returns the position after b. Pass
// the returned position to the next call to mask a payload in chunks;
// masking is its own inverse, so Mask also unmasks. It works 8 bytes at a
// time and allocates nothing.
func Mask(key [4]byte, pos int, b []byte) int {
	if len(b) == 0 {
		return pos
	}
	pos &= 3
	// Align the key to pos so that byte i of b is XORed with key[(pos+i)%4].
	k32 := binary.LittleEndian.Uint32(key[:])
	k32 = bits.RotateLeft32(k32, -8*pos)
	k64 := uint64(k32)<<32 | uint64(k32)
	i := 0
	for ; len(b)-i >= 32; i += 32 {
		p := b[i : i+32 : i+32]
		binary.LittleEndian.PutUint64(p[0:], binary.LittleEndian.Uint64(p[0:])^k64)
		binary.LittleEndian.PutUint64(p[8:], binary.LittleEndian.Uint64(p[8:])^k64)
		binary.LittleEndian.PutUint64(p[16:], binary.LittleEndian.Uint64(p[16:])^k64)
		binary.LittleEndian.PutUint64(p[24:], binary.LittleEndian.Uint64(p[24:])^k64)
	}
	for ; len(b)-i >= 8; i += 8 {
		p := b[i : i+8 : i+8]
		binary.LittleEndian.PutUint64(p, binary.LittleEndian.Uint64(p)^k64)
	}
	for ; i < len(b); i++ {
		b[i] ^= byte(k32 >> (8 * (i & 3)))
	}
	return (pos + len(b)) & 3
}

// MaskGenerator supplies the masking keys of a client's frames, like Qt's
// QMaskGenerator. RFC 6455 §5.3 requires them to be unpredictable; the
// default draws them from crypto/rand. NextMask is called with the
// connection's write lock held, never concurrently.
type MaskGenerator interface {
	NextMask() [4]byte
}

// randomMasks is the default MaskGenerator: keys come from a 256-byte batch
// of crypto/rand output, refilled when used up.
type randomMasks struct {
	buf [256]byte
	off int
}

func newRandomMasks() *randomMasks {
	return &randomMasks{off: len(randomMasks{}.buf)}
}

// NextMask returns the next 4 random bytes of the batch.
func (g *randomMasks) NextMask() [4]byte {
	if g.off+4 > len(g.buf) {
		// Since Go 1.24 crypto/rand.Read never returns an error: on the
		// supported platforms a failing kernel source crashes the program
		// instead of yielding predictable keys.
		_, _ = rand.Read(g.buf[:])
		g.off = 0
	}
	var k [4]byte
	copy(k[:], g.buf[g.off:])
	g.off += 4
	return k
}
