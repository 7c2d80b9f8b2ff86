package ws

import "unicode/utf8"

// utf8Validator checks UTF-8 incrementally across the chunks and fragments
// of a text message, failing as soon as a byte sequence can no longer be
// valid (RFC 6455 §8.1). It keeps at most 3 bytes of an unfinished
// character between calls.
type utf8Validator struct {
	pend [utf8.UTFMax]byte
	n    int
}

// reset forgets any unfinished character.
func (v *utf8Validator) reset() { v.n = 0 }

// write validates p and reports false at the first invalid sequence.
func (v *utf8Validator) write(p []byte) bool {
	for v.n > 0 && len(p) > 0 {
		// Complete the pending character one byte at a time.
		v.pend[v.n] = p[0]
		v.n++
		p = p[1:]
		if utf8.FullRune(v.pend[:v.n]) {
			r, size := utf8.DecodeRune(v.pend[:v.n])
			if r == utf8.RuneError && size <= 1 {
				return false
			}
			v.n = 0
		} else if !validPrefix(v.pend[:v.n]) {
			return false
		}
	}
	if len(p) == 0 {
		return true
	}
	// Hold back an unfinished character at the end.
	tail := len(p)
	for i := len(p) - 1; i >= 0 && i >= len(p)-(utf8.UTFMax-1); i-- {
		if utf8.RuneStart(p[i]) {
			if !utf8.FullRune(p[i:]) {
				tail = i
			}
			break
		}
	}
	if !utf8.Valid(p[:tail]) {
		return false
	}
	if tail < len(p) {
		if !validPrefix(p[tail:]) {
			return false
		}
		v.n = copy(v.pend[:], p[tail:])
	}
	return true
}

// done reports whether the text ended on a character boundary.
func (v *utf8Validator) done() bool { return v.n == 0 }

// validPrefix reports whether p (1 to 3 bytes, not a full character) can
// still begin a valid UTF-8 encoding (RFC 3629 §4).
func validPrefix(p []byte) bool {
	b0 := p[0]
	if b0 < 0xC2 || b0 > 0xF4 {
		return false
	}
	if len(p) >= 2 {
		lo, hi := byte(0x80), byte(0xBF)
		switch b0 {
		case 0xE0:
			lo = 0xA0
		case 0xED:
			hi = 0x9F
		case 0xF0:
			lo = 0x90
		case 0xF4:
			hi = 0x8F
		}
		if p[1] < lo || p[1] > hi {
			return false
		}
	}
	if len(p) >= 3 && (p[2] < 0x80 || p[2] > 0xBF) {
		return false
	}
	return true
}
