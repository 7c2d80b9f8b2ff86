package conformance

import (
	"bytes"
	"fmt"
	"testing"
)

// Autobahn section 1: framing, text and binary messages of the lengths
// around the 7-bit, 16-bit and 64-bit length encodings.
func section1() []acase {
	var cs []acase
	lengths := []int{0, 125, 126, 127, 128, 65535, 65536}
	for g, kind := range []struct {
		op  byte
		pat string
	}{{opText, "*"}, {opBinary, "\xfe"}} {
		for i, n := range lengths {
			p := bytes.Repeat([]byte(kind.pat), n)
			cs = append(cs, acase{
				id:     fmt.Sprintf("1.%d.%d", g+1, i+1),
				desc:   fmt.Sprintf("message of %d bytes (opcode %d)", n, kind.op),
				send:   []frame{{fin: true, op: kind.op, payload: p}},
				expect: []event{msgEv(kind.op, p)}, closeCode: 1000,
			})
		}
		p := bytes.Repeat([]byte(kind.pat), 65536)
		cs = append(cs, acase{
			id:     fmt.Sprintf("1.%d.8", g+1),
			desc:   "message of 65536 bytes written in chops of 997 bytes",
			send:   []frame{{fin: true, op: kind.op, payload: p, chop: 997}},
			expect: []event{msgEv(kind.op, p)}, closeCode: 1000,
		})
	}
	// Beyond Autobahn (its client always masks and encodes lengths
	// correctly).
	cs = append(cs,
		acase{id: "1.extra.unmasked", desc: "unmasked client frame -> 1002 (RFC 6455 §5.1)",
			send: []frame{{fin: true, op: opText, payload: []byte("Hello, world!"), unmasked: true}}, serverFails: true, closeCode: 1002},
		acase{id: "1.extra.len64msb", desc: "64-bit length with its most significant bit set -> 1002 (RFC 6455 §5.2)",
			run: func(t *testing.T, c *client) {
				c.write([]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4})
				c.expectClose(1002)
				c.expectTCPClosed(true)
			}},
		acase{id: "1.extra.pipelined", desc: "frames sent right behind the handshake request, before the 101, are not lost",
			early: func(c *client) []byte {
				b := c.encode(nil, frame{fin: true, op: opBinary, payload: repeat("\x00\xfe\x23\xfa\xf0", 100<<10)})
				return c.encode(b, text(true, "Hello, world!"))
			},
			expect:    []event{msgEv(opBinary, repeat("\x00\xfe\x23\xfa\xf0", 100<<10)), textEv("Hello, world!")},
			closeCode: 1000},
		acase{id: "1.extra.randomchops", desc: "text and binary messages written in chops split at random byte boundaries",
			run: func(t *testing.T, c *client) {
				var want []event
				var wire []byte
				for i := range 20 {
					n := c.rng.IntN(70000)
					f := frame{fin: true, op: opBinary, payload: repeat("\x00\xfe\x23\xfa\xf0", n)}
					if i%2 == 0 {
						f = frame{fin: true, op: opText, payload: repeat("κόσμε*", n)[:n]}
						f.payload = bytes.ToValidUTF8(f.payload, []byte("?"))
					}
					want = append(want, msgEv(f.op, f.payload))
					wire = c.encode(wire, f)
				}
				for len(wire) > 0 {
					m := min(len(wire), 1+c.rng.IntN(3000))
					c.write(wire[:m])
					wire = wire[m:]
				}
				c.expectEvents(want...)
				c.send(closeFrame(closePayload(1000, "")))
				c.expectClose(1000)
				c.expectTCPClosed(false)
			}},
	)
	return cs
}

// Autobahn section 2: pings and pongs.
func section2() []acase {
	bin := "\x00\xff\xfe\xfd\xfc\xfb\x00\xff"
	p125 := string(bytes.Repeat([]byte{0xfe}, 125))
	p126 := string(bytes.Repeat([]byte{0xfe}, 126))
	var tenPings []frame
	var tenPongs []event
	for i := range 10 {
		p := fmt.Sprintf("payload-%d", i)
		tenPings = append(tenPings, ping(p))
		tenPongs = append(tenPongs, pongEv([]byte(p)))
	}
	pong := func(p string) frame { return frame{fin: true, op: opPong, payload: []byte(p)} }
	return []acase{
		{id: "2.1", desc: "ping without payload", send: []frame{ping("")}, expect: []event{pongEv([]byte{})}, closeCode: 1000},
		{id: "2.2", desc: "ping with small text payload", send: []frame{ping("Hello, world!")}, expect: []event{pongEv([]byte("Hello, world!"))}, closeCode: 1000},
		{id: "2.3", desc: "ping with small binary payload", send: []frame{ping(bin)}, expect: []event{pongEv([]byte(bin))}, closeCode: 1000},
		{id: "2.4", desc: "ping with 125-byte payload", send: []frame{ping(p125)}, expect: []event{pongEv([]byte(p125))}, closeCode: 1000},
		{id: "2.5", desc: "ping with 126-byte payload -> 1002", send: []frame{ping(p126)}, serverFails: true, closeCode: 1002},
		{id: "2.6", desc: "ping with 125-byte payload in 1-byte chops", send: []frame{withChop(ping(p125), 1)}, expect: []event{pongEv([]byte(p125))}, closeCode: 1000},
		{id: "2.7", desc: "unsolicited pong without payload is ignored",
			send: []frame{pong(""), closeFrame(closePayload(1000, ""))}, clientClosed: true, closeCode: 1000},
		{id: "2.8", desc: "unsolicited pong with payload is ignored",
			send: []frame{pong("unsolicited pong payload"), closeFrame(closePayload(1000, ""))}, clientClosed: true, closeCode: 1000},
		{id: "2.9", desc: "unsolicited pong, then ping: only the ping is answered",
			send: []frame{pong("unsolicited pong payload"), ping("ping payload")}, expect: []event{pongEv([]byte("ping payload"))}, closeCode: 1000},
		{id: "2.10", desc: "10 pings in a row are answered in order", send: tenPings, expect: tenPongs, closeCode: 1000},
		{id: "2.11", desc: "10 pings in a row in 1-byte chops are answered in order", send: chopAll(1, tenPings...), expect: tenPongs, closeCode: 1000},
	}
}

// Autobahn section 3: reserved bits without a negotiated extension fail
// the connection with 1002, and nothing after the bad frame is answered.
func section3() []acase {
	hello := "Hello, world!"
	bin := "\x00\xff\xfe\xfd\xfc\xfb\x00\xff"
	withRsv := func(f frame, rsv byte) frame { f.rsv = rsv; return f }
	echoed := []event{textEv(hello)}
	return []acase{
		{id: "3.1", desc: "text with RSV=1", send: []frame{withRsv(text(true, hello), 1)}, serverFails: true, closeCode: 1002},
		{id: "3.2", desc: "text, text with RSV=2, ping",
			send: []frame{text(true, hello), withRsv(text(true, hello), 2), ping("")}, expect: echoed, serverFails: true, closeCode: 1002},
		{id: "3.3", desc: "text, text with RSV=3, ping, frame-wise chops",
			send: syncAll(text(true, hello), withRsv(text(true, hello), 3), ping("")), expect: echoed, serverFails: true, closeCode: 1002},
		{id: "3.4", desc: "text, text with RSV=4, ping, 1-byte chops",
			send: chopAll(1, text(true, hello), withRsv(text(true, hello), 4), ping("")), expect: echoed, serverFails: true, closeCode: 1002},
		{id: "3.5", desc: "binary with RSV=5", send: []frame{withRsv(frame{fin: true, op: opBinary, payload: []byte(bin)}, 5)}, serverFails: true, closeCode: 1002},
		// Autobahn's 3.6 says "Ping" but sends opcode 2; both are covered.
		{id: "3.6", desc: "binary with RSV=6", send: []frame{withRsv(frame{fin: true, op: opBinary, payload: []byte(hello)}, 6)}, serverFails: true, closeCode: 1002},
		{id: "3.6.extra.ping", desc: "ping with RSV=6", send: []frame{withRsv(ping(hello), 6)}, serverFails: true, closeCode: 1002},
		{id: "3.7", desc: "close with RSV=7", send: []frame{withRsv(closeFrame(nil), 7)}, serverFails: true, closeCode: 1002},
	}
}

// Autobahn section 4: reserved opcodes fail the connection with 1002.
func section4() []acase {
	hello := "Hello, world!"
	echoed := []event{textEv(hello)}
	var cs []acase
	for g, ops := range [][]byte{{3, 4, 5, 6, 7}, {11, 12, 13, 14, 15}} {
		for i, op := range ops {
			id := fmt.Sprintf("4.%d.%d", g+1, i+1)
			bad := frame{fin: true, op: op}
			switch i {
			case 0:
				cs = append(cs, acase{id: id, desc: fmt.Sprintf("reserved opcode %d", op),
					send: []frame{bad}, serverFails: true, closeCode: 1002})
			case 1:
				bad.payload = []byte("reserved opcode payload")
				cs = append(cs, acase{id: id, desc: fmt.Sprintf("reserved opcode %d with payload", op),
					send: []frame{bad}, serverFails: true, closeCode: 1002})
			case 2:
				cs = append(cs, acase{id: id, desc: fmt.Sprintf("text, reserved opcode %d, ping", op),
					send: []frame{text(true, hello), bad, ping("")}, expect: echoed, serverFails: true, closeCode: 1002})
			case 3:
				bad.payload = []byte(hello)
				cs = append(cs, acase{id: id, desc: fmt.Sprintf("text, reserved opcode %d with payload, ping", op),
					send: []frame{text(true, hello), bad, ping("")}, expect: echoed, serverFails: true, closeCode: 1002})
			case 4:
				bad.payload = []byte(hello)
				send := chopAll(1, text(true, hello), bad, ping(""))
				cs = append(cs, acase{id: id, desc: fmt.Sprintf("text, reserved opcode %d with payload, ping, 1-byte chops", op),
					send: send, expect: echoed, serverFails: true, closeCode: 1002})
			}
		}
	}
	return cs
}

func TestSection1Framing(t *testing.T) {
	runCases(t, startTargets(t, nil), section1())
}

func TestSection2PingPong(t *testing.T) {
	runCases(t, startTargets(t, nil), section2())
}

func TestSection3ReservedBits(t *testing.T) {
	runCases(t, startTargets(t, nil), section3())
}

func TestSection4Opcodes(t *testing.T) {
	runCases(t, startTargets(t, nil), section4())
}
