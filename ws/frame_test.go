package ws

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"unicode/utf8"
)

func TestHeaderRoundTrip(t *testing.T) {
	t.Parallel()
	lengths := []int64{0, 1, 125, 126, 127, 65535, 65536, 1 << 32, 1<<63 - 1}
	for _, l := range lengths {
		for _, masked := range []bool{false, true} {
			h := Header{Fin: l%2 == 0, Rsv: Rsv1 | Rsv3, OpCode: OpBinary, Masked: masked, Length: l}
			if masked {
				h.Mask = [4]byte{1, 2, 3, 4}
			}
			var buf [MaxHeaderSize]byte
			n, err := PutHeader(&buf, h)
			if err != nil {
				t.Fatal(err)
			}
			want := 2
			switch {
			case l > 65535:
				want += 8
			case l > 125:
				want += 2
			}
			if masked {
				want += 4
			}
			if n != want {
				t.Errorf("length %d masked %v: encoded in %d bytes, want %d", l, masked, n, want)
			}
			var rbuf [MaxHeaderSize]byte
			got, err := ReadHeader(bytes.NewReader(buf[:n]), &rbuf)
			if err != nil || got != h {
				t.Errorf("round trip of %+v: got %+v, %v", h, got, err)
			}
		}
	}
}

func TestReadHeaderErrors(t *testing.T) {
	t.Parallel()
	var buf [MaxHeaderSize]byte
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.EOF},
		{"one byte", []byte{0x81}, io.ErrUnexpectedEOF},
		{"cut 16-bit length", []byte{0x82, 126, 1}, io.ErrUnexpectedEOF},
		{"cut mask", []byte{0x82, 0x80 | 5, 1, 2}, io.ErrUnexpectedEOF},
		{"64-bit length with MSB", []byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0}, ErrHeader},
	}
	for _, tc := range cases {
		_, err := ReadHeader(bytes.NewReader(tc.in), &buf)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := PutHeader(&buf, Header{Length: -1}); !errors.Is(err, ErrHeader) {
		t.Errorf("negative length: got %v", err)
	}
	if _, err := PutHeader(&buf, Header{OpCode: 0x10}); !errors.Is(err, ErrHeader) {
		t.Errorf("opcode 0x10: got %v", err)
	}
}

func TestMaskMatchesNaive(t *testing.T) {
	t.Parallel()
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	naive := func(pos int, b []byte) {
		for i := range b {
			b[i] ^= key[(pos+i)&3]
		}
	}
	for n := 0; n < 100; n++ {
		for pos := 0; pos < 4; pos++ {
			a := make([]byte, n)
			for i := range a {
				a[i] = byte(i * 7)
			}
			b := bytes.Clone(a)
			naive(pos, a)
			if got := Mask(key, pos, b); got != (pos+n)&3 {
				t.Fatalf("n=%d pos=%d: returned position %d", n, pos, got)
			}
			if !bytes.Equal(a, b) {
				t.Fatalf("n=%d pos=%d: mask differs from the byte-at-a-time reference", n, pos)
			}
		}
	}
	// Chunked masking equals masking in one go.
	whole := bytes.Repeat([]byte("abcdefghij"), 100)
	chunked := bytes.Clone(whole)
	Mask(key, 0, whole)
	pos := 0
	for i := 0; i < len(chunked); {
		j := min(len(chunked), i+1+i%13)
		pos = Mask(key, pos, chunked[i:j])
		i = j
	}
	if !bytes.Equal(whole, chunked) {
		t.Fatal("chunked masking differs")
	}
}

func TestRandomMasksDiffer(t *testing.T) {
	t.Parallel()
	g := newRandomMasks()
	seen := map[[4]byte]bool{}
	for i := 0; i < 1000; i++ {
		seen[g.NextMask()] = true
	}
	if len(seen) < 990 {
		t.Fatalf("only %d distinct keys in 1000", len(seen))
	}
}

func TestUTF8ValidatorAllSplits(t *testing.T) {
	t.Parallel()
	inputs := []string{
		"", "hello", "κόσμε", "€", "𝄞 clef", "\u00e9\u4e2d\U0001F600",
		"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", // surrogate
		"\xc0\xaf",         // overlong
		"\xf4\x90\x80\x80", // > U+10FFFF
		"\xe0\x80\xaf",     // overlong 3-byte
		"abc\xff",
		"\xed\x9f\xbf",     // U+D7FF, valid
		"\xef\xbf\xbd",     // U+FFFD, valid
		"\xf0\x9f\x98",     // truncated at the end
		"\xce",             // truncated lead
		"\x80",             // lone continuation
		"\xf8\x88\x80\x80", // 5-byte form
	}
	for _, s := range inputs {
		want := utf8.ValidString(s)
		for i := 0; i <= len(s); i++ {
			for j := i; j <= len(s); j++ {
				var v utf8Validator
				ok := v.write([]byte(s[:i])) && v.write([]byte(s[i:j])) && v.write([]byte(s[j:])) && v.done()
				if ok != want {
					t.Fatalf("%q split at %d,%d: valid=%v, want %v", s, i, j, ok, want)
				}
			}
		}
	}
}

func TestUTF8ValidatorFailsFast(t *testing.T) {
	t.Parallel()
	// An impossible prefix is refused before the rest arrives.
	for _, p := range []string{"\xed\xa0", "\xf4\x90", "\xe0\x80", "\xf5", "\xc1"} {
		var v utf8Validator
		if v.write([]byte("ok " + p)) {
			t.Errorf("%q accepted as a prefix", p)
		}
	}
}

func TestCloseCodesAndPayloads(t *testing.T) {
	t.Parallel()
	valid := []StatusCode{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999}
	invalid := []StatusCode{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}
	for _, c := range valid {
		if !c.ValidOnWire() {
			t.Errorf("%d should be valid on the wire", c)
		}
		p, err := AppendClosePayload(nil, c, "r")
		if err != nil {
			t.Fatal(err)
		}
		code, reason, err := ParseClosePayload(p)
		if err != nil || code != c || reason != "r" {
			t.Errorf("%d: parsed %d %q %v", c, code, reason, err)
		}
	}
	for _, c := range invalid {
		if c.ValidOnWire() {
			t.Errorf("%d should be invalid on the wire", c)
		}
		var perr *ProtocolError
		if _, _, err := ParseClosePayload([]byte{byte(c >> 8), byte(c)}); !errors.As(err, &perr) || perr.Code != StatusProtocolError {
			t.Errorf("receiving %d: got %v, want a 1002 protocol error", c, err)
		}
		if c != StatusNoStatusReceived {
			if _, err := AppendClosePayload(nil, c, ""); err == nil {
				t.Errorf("sending %d: no error", c)
			}
		}
	}
	var perr *ProtocolError
	if _, _, err := ParseClosePayload([]byte{3}); !errors.As(err, &perr) || perr.Code != StatusProtocolError {
		t.Errorf("1-byte payload: %v", err)
	}
	if _, _, err := ParseClosePayload([]byte{3, 232, 0xff}); !errors.As(err, &perr) || perr.Code != StatusInvalidFramePayloadData {
		t.Errorf("invalid UTF-8 reason: %v", err)
	}
	if code, _, err := ParseClosePayload(nil); err != nil || code != StatusNoStatusReceived {
		t.Errorf("empty payload: %d %v", code, err)
	}
	if p, err := AppendClosePayload(nil, StatusNoStatusReceived, ""); err != nil || len(p) != 0 {
		t.Errorf("close without status: %v %v", p, err)
	}
	if _, err := AppendClosePayload(nil, 1000, "\xff"); err == nil {
		t.Error("invalid UTF-8 reason accepted for sending")
	}
}

func TestReasonTruncatedOnUTF8Boundary(t *testing.T) {
	t.Parallel()
	// 122 ASCII bytes then a 2-byte character straddling byte 123.
	reason := string(bytes.Repeat([]byte("a"), 122)) + "é" + "tail"
	p, err := AppendClosePayload(nil, 1000, reason)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 2+122 {
		t.Fatalf("payload is %d bytes, want 124 (the split character dropped)", len(p))
	}
	if !utf8.Valid(p[2:]) {
		t.Fatal("truncated reason is not UTF-8")
	}
	if got := TruncateUTF8("€€", 4); got != "€" {
		t.Fatalf("TruncateUTF8: %q", got)
	}
}
