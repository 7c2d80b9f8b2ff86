package conformance

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// utf8Group is a group of Autobahn's UTF-8 test sequences (case6_x_x.py,
// after Markus Kuhn's UTF-8-test.txt); group i is Autobahn's 6.<i+5>.
type utf8Group struct {
	name string
	seqs []utf8Seq
}

type utf8Seq struct {
	valid bool
	p     string
}

// utf8Groups returns Autobahn's sequences in its order, with its verdicts.
func utf8Groups() []utf8Group {
	kosme := "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
	v := func(ps ...string) []utf8Seq {
		out := make([]utf8Seq, len(ps))
		for i, p := range ps {
			out[i] = utf8Seq{true, p}
		}
		return out
	}
	bad := func(ps ...string) []utf8Seq {
		out := make([]utf8Seq, len(ps))
		for i, p := range ps {
			out[i] = utf8Seq{false, p}
		}
		return out
	}
	var prefixes []utf8Seq
	for i := 1; i <= len(kosme); i++ {
		prefixes = append(prefixes, utf8Seq{utf8.ValidString(kosme[:i]), kosme[:i]})
	}
	var cont strings.Builder
	for b := 0x80; b < 0xbf; b++ {
		cont.WriteByte(byte(b))
	}
	var lonely []string
	for _, r := range [][2]int{{0xc0, 0xdf}, {0xe0, 0xef}, {0xf0, 0xf7}, {0xf8, 0xfb}, {0xfc, 0xfd}} {
		var s strings.Builder
		for b := r[0]; b < r[1]; b++ {
			s.WriteByte(byte(b))
			s.WriteByte(0x20)
		}
		lonely = append(lonely, s.String())
	}
	missing := []string{"\xc0", "\xe0\x80", "\xf0\x80\x80", "\xf8\x80\x80\x80", "\xfc\x80\x80\x80\x80",
		"\xdf", "\xef\xbf", "\xf7\xbf\xbf", "\xfb\xbf\xbf\xbf", "\xfd\xbf\xbf\xbf\xbf"}
	nonchars := []string{"\xef\xbf\xbe", "\xef\xbf\xbf"}
	for _, z1 := range []string{"\xf0", "\xf1", "\xf2", "\xf3", "\xf4"} {
		for _, z2 := range []string{"\x8f", "\x9f", "\xaf", "\xbf"} {
			if z1 == "\xf4" && z2 != "\x8f" {
				continue // beyond U+10FFFF
			}
			for _, z3 := range []string{"\xbe", "\xbf"} {
				zz := z1 + z2 + "\xbf" + z3
				if zz != "\xf0\x8f\xbf\xbe" && zz != "\xf0\x8f\xbf\xbf" { // overlong
					nonchars = append(nonchars, zz)
				}
			}
		}
	}
	return []utf8Group{
		{"Some valid UTF-8 sequences", v("hello\x24world", "hello\xc2\xa2world", "hello\xe2\x82\xacworld", "hello\xf0\xa4\xad\xa2world", kosme)},
		{"All prefixes of a valid UTF-8 string that contains multi-byte code points", prefixes},
		{"First possible sequence of a certain length", v("\x00", "\xc2\x80", "\xe0\xa0\x80", "\xf0\x90\x80\x80")},
		{"First possible sequence length 5/6 (invalid codepoints)", bad("\xf8\x88\x80\x80\x80", "\xfc\x84\x80\x80\x80\x80")},
		{"Last possible sequence of a certain length", v("\x7f", "\xdf\xbf", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf")},
		{"Last possible sequence length 4/5/6 (invalid codepoints)", bad("\xf7\xbf\xbf\xbf", "\xfb\xbf\xbf\xbf\xbf", "\xfd\xbf\xbf\xbf\xbf\xbf")},
		{"Other boundary conditions", append(v("\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbd", "\xf4\x8f\xbf\xbf"), bad("\xf4\x90\x80\x80")...)},
		{"Unexpected continuation bytes", bad("\x80", "\xbf", "\x80\xbf", "\x80\xbf\x80", "\x80\xbf\x80\xbf", "\x80\xbf\x80\xbf\x80", "\x80\xbf\x80\xbf\x80\xbf", cont.String())},
		{"Lonely start characters", bad(lonely...)},
		{"Sequences with last continuation byte missing", bad(missing...)},
		{"Concatenation of incomplete sequences", bad(strings.Join(missing, ""))},
		{"Impossible bytes", bad("\xfe", "\xff", "\xfe\xfe\xff\xff")},
		{"Examples of an overlong ASCII character", bad("\xc0\xaf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf", "\xf8\x80\x80\x80\xaf", "\xfc\x80\x80\x80\x80\xaf")},
		{"Maximum overlong sequences", bad("\xc1\xbf", "\xe0\x9f\xbf", "\xf0\x8f\xbf\xbf", "\xf8\x87\xbf\xbf\xbf", "\xfc\x83\xbf\xbf\xbf\xbf")},
		{"Overlong representation of the NUL character", bad("\xc0\x80", "\xe0\x80\x80", "\xf0\x80\x80\x80", "\xf8\x80\x80\x80\x80", "\xfc\x80\x80\x80\x80\x80")},
		{"Single UTF-16 surrogates", bad("\xed\xa0\x80", "\xed\xad\xbf", "\xed\xae\x80", "\xed\xaf\xbf", "\xed\xb0\x80", "\xed\xbe\x80", "\xed\xbf\xbf")},
		{"Paired UTF-16 surrogates", bad("\xed\xa0\x80\xed\xb0\x80", "\xed\xa0\x80\xed\xbf\xbf", "\xed\xad\xbf\xed\xb0\x80", "\xed\xad\xbf\xed\xbf\xbf",
			"\xed\xae\x80\xed\xb0\x80", "\xed\xae\x80\xed\xbf\xbf", "\xed\xaf\xbf\xed\xb0\x80", "\xed\xaf\xbf\xed\xbf\xbf")},
		{"Non-character code points (valid UTF-8)", v(nonchars...)},
		{"Unicode specials (i.e. replacement char)", v("\xef\xbf\xb9", "\xef\xbf\xba", "\xef\xbf\xbb", "\xef\xbf\xbc", "\xef\xbf\xbd", "\xef\xbf\xbe", "\xef\xbf\xbf")},
	}
}

// utf8FailIndex is the test's own UTF-8 oracle, written from the RFC 3629
// §4 grammar independently of package ws: it returns the index of the
// byte at which p stops being a prefix of any valid UTF-8 text, len(p) if
// p could still be completed but ends inside a character, or -1 if p is
// valid UTF-8.
func utf8FailIndex(p []byte) int {
	need := 0
	lo, hi := byte(0x80), byte(0xbf)
	for i, b := range p {
		if need > 0 {
			if b < lo || b > hi {
				return i
			}
			lo, hi = 0x80, 0xbf
			need--
			continue
		}
		switch {
		case b <= 0x7f:
		case b >= 0xc2 && b <= 0xdf:
			need = 1
		case b == 0xe0:
			need, lo = 2, 0xa0
		case b >= 0xe1 && b <= 0xec, b == 0xee, b == 0xef:
			need = 2
		case b == 0xed:
			need, hi = 2, 0x9f // no surrogates
		case b == 0xf0:
			need, lo = 3, 0x90
		case b >= 0xf1 && b <= 0xf3:
			need = 3
		case b == 0xf4:
			need, hi = 3, 0x8f // nothing above U+10FFFF
		default:
			return i // 0x80-0xc1 (continuation, overlong lead), 0xf5-0xff
		}
	}
	if need > 0 {
		return len(p)
	}
	return -1
}

// failFastWithin bounds the wait for the server to fail the connection
// on invalid text whose rest it has not been sent: it must not wait for
// the rest, so a long wait is a failure, not slowness.
const failFastWithin = 2 * time.Second

// Autobahn section 6: UTF-8 handling.
func section6(t *testing.T) []acase {
	kosme := "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
	hello := "Hello-µ@ßöäüàá-UTF-8!!"
	bad631 := kosme + "\xed\xa0\x80" + "edited"
	cs := []acase{
		{id: "6.1.1", desc: "empty text message", send: []frame{text(true, "")}, expect: []event{textEv("")}, closeCode: 1000},
		{id: "6.1.2", desc: "text in 3 empty fragments", send: []frame{text(false, ""), cont(false, ""), cont(true, "")}, expect: []event{textEv("")}, closeCode: 1000},
		{id: "6.1.3", desc: "text in 3 fragments, only the middle one non-empty",
			send: []frame{text(false, ""), cont(false, "middle frame payload"), cont(true, "")}, expect: []event{textEv("middle frame payload")}, closeCode: 1000},
		{id: "6.2.1", desc: "valid UTF-8 in one frame", send: []frame{text(true, hello)}, expect: []event{textEv(hello)}, closeCode: 1000},
		{id: "6.2.2", desc: "valid UTF-8 in 2 fragments split on a code point boundary",
			send: []frame{text(false, "Hello-µ@ßöä"), cont(true, "üàá-UTF-8!!")}, expect: []event{textEv(hello)}, closeCode: 1000},
		{id: "6.2.3", desc: "valid UTF-8 in 1-byte fragments", send: fragments(opText, []byte(hello), 1), expect: []event{textEv(hello)}, closeCode: 1000},
		{id: "6.2.4", desc: "valid UTF-8 (κόσμε) in 1-byte fragments", send: fragments(opText, []byte(kosme), 1), expect: []event{textEv(kosme)}, closeCode: 1000},
		{id: "6.3.1", desc: "invalid UTF-8 (surrogate) in one frame -> 1007", send: []frame{text(true, bad631)}, serverFails: true, closeCode: 1007},
		{id: "6.3.2", desc: "invalid UTF-8 (surrogate) in 1-byte fragments -> 1007", send: fragments(opText, []byte(bad631), 1), serverFails: true, closeCode: 1007},
	}
	// 6.4.x: fail fast. The server must fail the connection as soon as the
	// part that makes the text invalid arrives, before the rest is sent
	// (Autobahn grades a failure only after part 3 as NON-STRICT; we
	// require OK).
	parts641 := []string{kosme, "\xf4\x90\x80\x80", "edited"}
	all := strings.Join(parts641, "")
	parts642 := []string{all[:12], all[12:13], all[13:]}
	inFrames := func(parts []string) func(t *testing.T, c *client) {
		return func(t *testing.T, c *client) {
			c.send(text(false, parts[0]))
			c.expectOpen(continueLater)
			c.send(cont(false, parts[1]))
			c.timeout = failFastWithin
			c.expectClose(1007)
			c.send(closeFrame(closePayload(1007, "")))
			c.expectTCPClosed(true)
		}
	}
	inChops := func(parts []string) func(t *testing.T, c *client) {
		return func(t *testing.T, c *client) {
			wire := c.encode(nil, text(true, strings.Join(parts, "")))
			hdr := len(wire) - len(all)
			c.write(wire[:hdr+len(parts[0])])
			c.expectOpen(continueLater)
			c.write(wire[hdr+len(parts[0]) : hdr+len(parts[0])+len(parts[1])])
			c.timeout = failFastWithin
			c.expectClose(1007)
			c.send(closeFrame(closePayload(1007, "")))
			c.expectTCPClosed(true)
		}
	}
	cs = append(cs,
		acase{id: "6.4.1", desc: "invalid UTF-8 (> U+10FFFF) in 3 fragments: fail on fragment 2", run: inFrames(parts641)},
		acase{id: "6.4.2", desc: "as 6.4.1, fragment 2 is the single invalid byte", run: inFrames(parts642)},
		acase{id: "6.4.3", desc: "as 6.4.1 in 3 chops of one frame: fail inside the frame", run: inChops(parts641)},
		acase{id: "6.4.4", desc: "as 6.4.2 in 3 chops of one frame: fail inside the frame", run: inChops(parts642)},
	)

	// 6.5 - 6.23: Autobahn's sequences, each in one frame (the Autobahn
	// case), and beyond Autobahn: in 1-byte fragments (-frag1), in one
	// frame written in 1-byte chops (-chop1), invalid ones cut right after
	// the offending byte (-failfast: the server must fail without the rest
	// of the frame), and ones that are only invalid because they end early
	// sent as a non-final fragment (-open: the server must wait for more).
	for gi, g := range utf8Groups() {
		for si, s := range g.seqs {
			id := fmt.Sprintf("6.%d.%d", gi+5, si+1)
			p := []byte(s.p)
			fail := utf8FailIndex(p)
			if (fail < 0) != s.valid || utf8.Valid(p) != s.valid {
				t.Fatalf("%s: oracle disagrees with Autobahn's verdict valid=%v for %q (fail index %d)", id, s.valid, p, fail)
			}
			desc := fmt.Sprintf("%s: %q valid=%v", g.name, p, s.valid)
			variants := []struct {
				suffix string
				send   []frame
			}{
				{"", []frame{text(true, s.p)}},
				{"-frag1", fragments(opText, p, 1)},
				{"-chop1", []frame{withChop(text(true, s.p), 1)}},
			}
			for _, vr := range variants {
				c := acase{id: id + vr.suffix, desc: desc, send: vr.send}
				if s.valid {
					c.expect, c.closeCode = []event{textEv(s.p)}, 1000
				} else {
					c.serverFails, c.closeCode = true, 1007
				}
				cs = append(cs, c)
			}
			switch {
			case s.valid:
			case fail < len(p)-1:
				cut := fail + 1
				cs = append(cs, acase{id: id + "-failfast", desc: desc + fmt.Sprintf(", cut after byte %d", cut),
					run: func(t *testing.T, c *client) {
						wire := c.encode(nil, text(true, s.p))
						c.write(wire[:len(wire)-len(p)+cut])
						c.timeout = failFastWithin
						c.expectClose(1007)
						c.expectTCPClosed(true)
					}})
			case fail == len(p):
				cs = append(cs, acase{id: id + "-open", desc: desc + ", as a non-final fragment, then an empty final one",
					run: func(t *testing.T, c *client) {
						c.send(text(false, s.p))
						c.expectOpen(continueLater)
						c.send(cont(true, ""))
						c.expectClose(1007)
						c.expectTCPClosed(true)
					}})
			}
		}
	}
	return cs
}

func TestSection6UTF8(t *testing.T) {
	runCases(t, startTargets(t, nil), section6(t))
}

// TestUTF8Oracle checks the test's own oracle against the standard
// library on every code point and on Autobahn's sequences.
func TestUTF8Oracle(t *testing.T) {
	var buf [4]byte
	for r := rune(0); r <= 0x10ffff; r++ {
		if r >= 0xd800 && r <= 0xdfff {
			continue
		}
		n := utf8.EncodeRune(buf[:], r)
		if i := utf8FailIndex(buf[:n]); i != -1 {
			t.Fatalf("U+%04X: fail index %d", r, i)
		}
		for k := 1; k < n; k++ {
			if i := utf8FailIndex(buf[:k]); i != k {
				t.Fatalf("U+%04X prefix %d: fail index %d, want %d", r, k, i, k)
			}
		}
	}
	for b := 0; b < 256; b++ {
		for c := 0; c < 256; c++ {
			p := []byte{byte(b), byte(c)}
			if got, want := utf8FailIndex(p) == -1, utf8.Valid(p); got != want {
				t.Fatalf("%x: oracle valid=%v, utf8.Valid=%v", p, got, want)
			}
		}
	}
}
