package conformance

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// continueLater stands for Autobahn's 1 s continueLater in 5.19/5.20,
// shortened: the point is that the server answers the ping while the
// message is still open.
const continueLater = 100 * time.Millisecond

// Autobahn section 5: fragmentation.
func section5() []acase {
	f1f2 := []frame{text(false, "fragment1"), cont(true, "fragment2")}
	f1f2Echo := []event{textEv("fragment1fragment2")}
	withPing := []frame{text(false, "fragment1"), ping("ping payload"), cont(true, "fragment2")}
	withPingEcho := []event{pongEv([]byte("ping payload")), textEv("fragment1fragment2")}
	contFin := []frame{cont(true, "non-continuation payload"), text(true, "Hello, world!")}
	contNoFin := []frame{cont(false, "non-continuation payload"), text(true, "Hello, world!")}
	var rep16, rep17 []frame
	for range 2 {
		rep16 = append(rep16, cont(false, "fragment1"), text(false, "fragment2"), cont(true, "fragment3"))
		rep17 = append(rep17, cont(true, "fragment1"), text(false, "fragment2"), cont(true, "fragment3"))
	}
	fragPings := func(sync bool) []frame {
		fs := []frame{
			text(false, "fragment1"), cont(false, "fragment2"), ping("pongme 1!"),
			cont(false, "fragment3"), cont(false, "fragment4"), ping("pongme 2!"), cont(true, "fragment5"),
		}
		fs[3].pause = continueLater
		if sync {
			fs = syncAll(fs...)
		}
		return fs
	}
	fragPingsEcho := []event{pongEv([]byte("pongme 1!")), pongEv([]byte("pongme 2!")), textEv("fragment1fragment2fragment3fragment4fragment5")}
	// chopped is case c as 5.n, then as 5.n+1 with each frame written on
	// its own (frame-wise chops) and as 5.n+2 one byte at a time.
	chopped := func(n int, c acase) []acase {
		c.id = fmt.Sprintf("5.%d", n)
		sync, bytewise := c, c
		sync.id, sync.desc, sync.send = fmt.Sprintf("5.%d", n+1), "as "+c.id+", frame-wise chops", syncAll(c.send...)
		bytewise.id, bytewise.desc, bytewise.send = fmt.Sprintf("5.%d", n+2), "as "+c.id+", 1-byte chops", chopAll(1, c.send...)
		return []acase{c, sync, bytewise}
	}
	return slices.Concat([]acase{
		{id: "5.1", desc: "ping fragmented into 2 fragments -> 1002",
			send: []frame{{op: opPing, payload: []byte("fragment1")}, cont(true, "fragment2")}, serverFails: true, closeCode: 1002},
		{id: "5.2", desc: "pong fragmented into 2 fragments -> 1002",
			send: []frame{{op: opPong, payload: []byte("fragment1")}, cont(true, "fragment2")}, serverFails: true, closeCode: 1002},
	},
		chopped(3, acase{desc: "text in 2 fragments", send: f1f2, expect: f1f2Echo, closeCode: 1000}),
		chopped(6, acase{desc: "text in 2 fragments, ping in between", send: withPing, expect: withPingEcho, closeCode: 1000}),
		chopped(9, acase{desc: "continuation (FIN) without a message, then text -> 1002", send: contFin, serverFails: true, closeCode: 1002}),
		chopped(12, acase{desc: "continuation (no FIN) without a message, then text -> 1002", send: contNoFin, serverFails: true, closeCode: 1002}),
		[]acase{
			{id: "5.15", desc: "text in 2 fragments, then continuation without a message -> echo, then 1002",
				send:   []frame{text(false, "fragment1"), cont(true, "fragment2"), cont(false, "fragment3"), text(true, "fragment4")},
				expect: f1f2Echo, serverFails: true, closeCode: 1002},
			{id: "5.16", desc: "2x: continuation (no FIN) without a message, then text in 2 fragments -> 1002", send: rep16, serverFails: true, closeCode: 1002},
			{id: "5.17", desc: "2x: continuation (FIN) without a message, then text in 2 fragments -> 1002", send: rep17, serverFails: true, closeCode: 1002},
			{id: "5.18", desc: "new text message inside a fragmented one -> 1002",
				send: []frame{text(false, "fragment1"), text(true, "fragment2")}, serverFails: true, closeCode: 1002},
			{id: "5.19", desc: "text in 5 fragments with 2 pings in between and a pause", send: fragPings(false), expect: fragPingsEcho, closeCode: 1000},
			{id: "5.20", desc: "as 5.19, frame-wise chops", send: fragPings(true), expect: fragPingsEcho, closeCode: 1000},
			// Beyond Autobahn: a new message opcode (binary) inside a text message.
			{id: "5.extra.binaryinside", desc: "binary frame inside a fragmented text message -> 1002",
				send: []frame{text(false, "fragment1"), {fin: true, op: opBinary, payload: []byte("fragment2")}}, serverFails: true, closeCode: 1002},
		})
}

func TestSection5Fragmentation(t *testing.T) {
	runCases(t, startTargets(t, nil), section5())
}
