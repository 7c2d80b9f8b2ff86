package conformance

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/ws"
)

// Autobahn section 9: limits and performance. Every message must come back
// intact (Autobahn only checks the length; we compare the bytes).
func section9() []acase {
	sizes := []int{64 << 10, 256 << 10, 1 << 20, 4 << 20, 8 << 20, 16 << 20}
	frags := []int{64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20}
	chops := []int{64, 128, 256, 512, 1024, 2048}
	kinds := []struct {
		op       byte
		pat      string // single-frame and chopped cases
		fragByte string // fragmented cases
	}{{opText, "BAsd7&jh23", "*"}, {opBinary, "\x00\xfe\x23\xfa\xf0", "\xfe"}}
	timeout := func(n int) time.Duration { return defaultTimeout + time.Duration(n>>20)*5*time.Second }
	// message is a case sending one message of n bytes of pat as the
	// frames split makes of it, and expecting it back whole.
	message := func(id, desc string, timeout time.Duration, op byte, pat string, n int, split func(p []byte) []frame) acase {
		return acase{id: id, desc: desc, timeout: timeout, closeCode: 1000,
			build: func() ([]frame, []event) {
				p := repeat(pat, n)
				return split(p), []event{msgEv(op, p)}
			}}
	}
	var cs []acase
	for k, kind := range kinds {
		for i, n := range sizes {
			cs = append(cs, message(fmt.Sprintf("9.%d.%d", 1+k, i+1), fmt.Sprintf("message of %d bytes in one frame", n),
				timeout(n), kind.op, kind.pat, n, func(p []byte) []frame {
					return []frame{{fin: true, op: kind.op, payload: p}}
				}))
		}
		for i, fs := range frags {
			n := 4 << 20
			cs = append(cs, message(fmt.Sprintf("9.%d.%d", 3+k, i+1), fmt.Sprintf("message of %d bytes in frames of %d bytes", n, fs),
				timeout(n)+30*time.Second, kind.op, kind.fragByte, n, func(p []byte) []frame {
					return fragments(kind.op, p, fs)
				}))
		}
		for i, chop := range chops {
			n := 1 << 20
			cs = append(cs, message(fmt.Sprintf("9.%d.%d", 5+k, i+1), fmt.Sprintf("message of %d bytes written in chops of %d bytes", n, chop),
				timeout(n)+30*time.Second, kind.op, kind.pat, n, func(p []byte) []frame {
					return []frame{{fin: true, op: kind.op, payload: p, chop: chop}}
				}))
		}
	}
	// 9.7.x / 9.8.x: 1000 round trips of small messages, one at a time.
	for k, kind := range kinds {
		for i, n := range []int{0, 16, 64, 256, 1024, 4096} {
			cs = append(cs, acase{id: fmt.Sprintf("9.%d.%d", 7+k, i+1), desc: fmt.Sprintf("1000 round trips of %d-byte messages", n),
				timeout: 60 * time.Second,
				run: func(t *testing.T, c *client) {
					p := repeat(kind.fragByte, n)
					for range 1000 {
						c.send(frame{fin: true, op: kind.op, payload: p})
						c.expectEvents(msgEv(kind.op, p))
					}
					c.send(closeFrame(closePayload(1000, "")))
					c.expectClose(1000)
					c.expectTCPClosed(false)
				}})
		}
	}
	return cs
}

// section9RaceSubset are the section 9 cases run under -race; the others
// run in TestSection9Heavy.
var section9RaceSubset = []string{
	"9.1.1", "9.1.2", "9.1.3", "9.1.4", // single frames up to 4 MiB
	"9.2.1", "9.2.2", "9.2.3", "9.2.4",
	"9.3.1", "9.3.5", "9.3.9", // 4 MiB in 64-byte, 16 KiB and 4 MiB frames
	"9.4.2", "9.4.8",
	"9.5.1", "9.5.2", "9.5.3", "9.5.4", "9.5.5", "9.5.6", // 1 MiB in chops of 64 .. 2048 bytes
	"9.6.1", "9.6.6",
	"9.7.1", "9.7.2", "9.7.3", "9.7.4", "9.7.5", "9.7.6", // 1000 round trips
	"9.8.1", "9.8.2", "9.8.3", "9.8.4", "9.8.5", "9.8.6",
}

func TestSection9Limits(t *testing.T) {
	var cs []acase
	for _, c := range section9() {
		if slices.Contains(section9RaceSubset, c.id) {
			cs = append(cs, c)
		}
	}
	if len(cs) != len(section9RaceSubset) {
		t.Fatalf("subset names %d cases, found %d", len(section9RaceSubset), len(cs))
	}
	runCases(t, startTargets(t, nil), cs)
}

// TestSection9Heavy runs all of Autobahn's section 9 (messages up to
// 16 MiB, 4 MiB in 64-byte frames, ...). CI runs it without -race.
func TestSection9Heavy(t *testing.T) {
	if os.Getenv("WSSPROXY_HEAVY") != "1" {
		t.Skip("set WSSPROXY_HEAVY=1 to run all of section 9")
	}
	runCases(t, startTargets(t, nil), section9())
}

// Autobahn section 10 (10.1.1) and the incoming limits: a frame over
// MaxIncomingFrameSize or a message over MaxIncomingMessageSize fails
// the connection with 1009, decided on the frame header, before its
// payload is read or buffered.
func section10Limits() []acase {
	const frameMax, msgMax = 16 << 10, 64 << 10
	bin := func(fin bool, op byte, n int) frame {
		return frame{fin: fin, op: op, payload: repeat("\x00\xfe\x23\xfa\xf0", n)}
	}
	// headerOnly sends frames, then only the header of a frame claiming n
	// payload bytes, and expects 1009 without sending the payload.
	headerOnly := func(before []frame, op byte, n uint64) func(t *testing.T, c *client) {
		return func(t *testing.T, c *client) {
			c.send(before...)
			hdr := []byte{0x80 | op, 0x80 | 127}
			hdr = append(hdr, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
			hdr = append(hdr, 1, 2, 3, 4)
			c.write(hdr)
			c.timeout = failFastWithin
			c.expectClose(1009)
			c.expectTCPClosed(true)
		}
	}
	full := make([]frame, 0, 4)
	var fullMsg []byte
	for i := range msgMax / frameMax {
		f := bin(i == msgMax/frameMax-1, opCont, frameMax)
		if i == 0 {
			f.op = opBinary
		}
		full = append(full, f)
		fullMsg = append(fullMsg, f.payload...)
	}
	notLast := slices.Clone(full)
	notLast[len(notLast)-1].fin = false
	withPings := []frame{}
	var pongs []event
	for i, f := range full {
		withPings = append(withPings, f)
		if !f.fin {
			p := fmt.Sprintf("ping %d", i)
			withPings = append(withPings, ping(p))
			pongs = append(pongs, pongEv([]byte(p)))
		}
	}
	return []acase{
		{id: "10.limit.frame-at-max", desc: "a frame of exactly MaxIncomingFrameSize is echoed",
			send: []frame{bin(true, opBinary, frameMax)}, expect: []event{msgEv(opBinary, repeat("\x00\xfe\x23\xfa\xf0", frameMax))}, closeCode: 1000},
		{id: "10.limit.message-at-max", desc: "a message of exactly MaxIncomingMessageSize is echoed",
			send: full, expect: []event{msgEv(opBinary, fullMsg)}, closeCode: 1000},
		{id: "10.limit.control-not-counted", desc: "pings between fragments do not count towards the message size",
			send: withPings, expect: append(pongs, msgEv(opBinary, fullMsg)), closeCode: 1000},
		{id: "10.limit.frame-over-max", desc: "a frame of MaxIncomingFrameSize+1 -> 1009 on its header",
			run: headerOnly(nil, opBinary, frameMax+1)},
		{id: "10.limit.frame-over-max-text", desc: "a text frame of MaxIncomingFrameSize+1 -> 1009 on its header",
			run: headerOnly(nil, opText, frameMax+1)},
		{id: "10.limit.frame-huge", desc: "a frame claiming 2^63-1 bytes -> 1009 on its header",
			run: headerOnly(nil, opBinary, 1<<63-1)},
		{id: "10.limit.message-over-max", desc: "a message of MaxIncomingMessageSize+1 -> 1009 on the header of its last frame",
			run: headerOnly(notLast, opCont, 1)},
		{id: "10.limit.message-over-max-sent", desc: "a message of MaxIncomingMessageSize+1 sent whole -> 1009, nothing echoed",
			send: append(slices.Clone(notLast), bin(true, opCont, 1)), serverFails: true, closeCode: 1009},
	}
}

func TestSection10Limits(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		p := repeat("*", 65536)
		runCases(t, startTargets(t, nil), []acase{
			{id: "10.1.1", desc: "64 KiB text in 1300-byte frames",
				send: fragments(opText, p, 1300), expect: []event{msgEv(opText, p)}, closeCode: 1000},
			{id: "10.limit.default-message", desc: "a frame over the default limit (32 MiB) -> 1009 on its header",
				run: func(t *testing.T, c *client) {
					n := uint64(ws.DefaultMaxIncomingMessageSize + 1)
					c.write([]byte{0x82, 0xff, byte(n >> 56), byte(n >> 48), byte(n >> 40), byte(n >> 32), byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), 9, 9, 9, 9})
					c.timeout = failFastWithin
					c.expectClose(1009)
					c.expectTCPClosed(true)
				}},
		})
	})
	t.Run("configured", func(t *testing.T) {
		runCases(t, startTargets(t, limitOptions), section10Limits())
	})
}

// TestLimitsMemoryBounded checks that what a client claims or streams
// beyond the limits costs the server no memory beyond them: frame headers
// claiming 1 GiB allocate nothing of that size, and a message streamed
// past MaxIncomingMessageSize is cut off at the limit. It measures the
// whole process's allocations, so it runs alone (not in parallel).
func TestLimitsMemoryBounded(t *testing.T) {
	const limit = 1 << 20
	// The endpoint's memory: the proxy target holds two more connections
	// per client by design (its own two legs).
	tgs := startTargets(t, &ws.AcceptOptions{Options: ws.Options{MaxIncomingFrameSize: limit, MaxIncomingMessageSize: limit}})[:2]
	chunk := repeat("\x00\xfe\x23\xfa\xf0", 64<<10)
	for _, tg := range tgs {
		t.Run(tg.name, func(t *testing.T) {
			const claims, streams = 20, 4
			var wire []byte
			enc := &client{rng: rand.New(rand.NewPCG(1, 2))} // only its encoder
			for i := range limit / len(chunk) {
				op := opCont
				if i == 0 {
					op = opBinary
				}
				wire = enc.encode(wire, frame{op: op, payload: chunk})
			}
			wire = append(wire, 0x80, 0xff, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3, 4) // and 1 GiB more
			var m0, m1, m2 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			for range claims {
				c := dial(t, tg, defaultTimeout)
				c.write([]byte{0x82, 0xff, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3, 4}) // 1 GiB
				c.expectClose(1009)
				c.expectTCPClosed(true)
				_ = c.nc.Close()
			}
			runtime.ReadMemStats(&m1)
			for range streams {
				c := dial(t, tg, defaultTimeout)
				c.write(wire)
				c.expectClose(1009)
				c.expectTCPClosed(true)
				_ = c.nc.Close()
			}
			runtime.ReadMemStats(&m2)
			perClaim := (m1.TotalAlloc - m0.TotalAlloc) / claims
			perStream := (m2.TotalAlloc - m1.TotalAlloc) / streams
			t.Logf("allocated per connection (client and server): %d bytes for a 1 GiB claim, %d bytes for a %d-byte stream cut at the limit", perClaim, perStream, len(wire))
			// Nothing may scale with the 1 GiB claimed; a streamed message
			// is buffered up to the limit (ReadMessage grows its buffer by
			// doubling: about twice the limit in all, four times under -race).
			if perClaim > 256<<10 {
				t.Errorf("a connection claiming a 1 GiB frame cost %d bytes, want at most 256 KiB", perClaim)
			}
			if perStream > 8*limit {
				t.Errorf("a connection streaming past the %d-byte limit cost %d bytes, want at most %d", limit, perStream, 8*limit)
			}
		})
	}
}
