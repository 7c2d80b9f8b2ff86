package conformance

import (
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/ws"
)

// acase is one conformance case, named by its Autobahn Testsuite id.
//
// Graded as Autobahn grades "OK", strictly: the events received must be
// exactly expect, in order, and the connection must end as follows.
//   - serverFails: the server fails the connection: its next frame is a
//     close frame with closeCode, nothing follows it, and it closes TCP
//     (we answer its close as Autobahn does; a reset is accepted since
//     the server may close with our later frames unread).
//   - otherwise (Autobahn's closedByMe): once expect is received the
//     client sends a close 1000 (unless the case's frames closed already),
//     the server answers with closeCode (and closeReason) and then closes
//     TCP first with a FIN.
type acase struct {
	id   string
	desc string
	send []frame
	// build, if set, makes send and expect when the case runs (large
	// payloads are not kept alive by the table).
	build       func() ([]frame, []event)
	expect      []event
	serverFails bool
	closeCode   int    // expected code of the server's close frame (-1: no payload)
	closeReason string // expected reason (checked on client-initiated closes)
	// clientClosed: send already ends with the client's close frame, so
	// no close 1000 is added (Autobahn's cases that call sendClose).
	clientClosed bool
	// dataAfterClose: frames follow the client's close; the server may
	// reset the connection on closing with them unread.
	dataAfterClose bool
	// early, if set, makes frames sent in the same write as the
	// handshake request, before the server's answer.
	early func(c *client) []byte
	// run, if set, replaces the generic script.
	run     func(t *testing.T, c *client)
	timeout time.Duration
	serial  bool // do not run in parallel with other cases
}

const defaultTimeout = 10 * time.Second

// runCases runs each case against each target as t.Run("<id>/<target>").
func runCases(t *testing.T, targets []target, cases []acase) {
	t.Helper()
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.id] {
			t.Fatalf("duplicate case id %s", tc.id)
		}
		seen[tc.id] = true
		t.Run(tc.id, func(t *testing.T) {
			if !tc.serial {
				t.Parallel()
			}
			if tc.desc != "" {
				t.Log(tc.desc)
			}
			for _, tg := range targets {
				t.Run(tg.name, func(t *testing.T) {
					if !tc.serial {
						t.Parallel()
					}
					runCase(t, tg, tc)
				})
			}
		})
	}
}

func runCase(t *testing.T, tg target, tc acase) {
	timeout := tc.timeout
	if timeout == 0 {
		timeout = defaultTimeout
	}
	c := dialEarly(t, tg, timeout, tc.early)
	if tc.run != nil {
		tc.run(t, c)
		return
	}
	send, expect := tc.send, tc.expect
	if tc.build != nil {
		send, expect = tc.build()
	}
	c.send(send...)
	c.expectEvents(expect...)
	if tc.serverFails {
		c.expectClose(tc.closeCode)
		// Answer the close as Autobahn does; the server may be gone.
		c.send(frame{fin: true, op: opClose, payload: closePayload(uint16(tc.closeCode), "")})
		c.expectTCPClosed(true)
		return
	}
	if !tc.clientClosed {
		c.send(frame{fin: true, op: opClose, payload: closePayload(1000, "")})
	}
	if c.writeErr != nil {
		t.Fatalf("write failed: %v", c.writeErr)
	}
	got := c.expectClose(tc.closeCode)
	if got.reason != tc.closeReason {
		t.Fatalf("close reason %q, want %q", got.reason, tc.closeReason)
	}
	c.expectTCPClosed(tc.dataAfterClose)
}

// Shorthands for the tables.

func text(fin bool, p string) frame { return frame{fin: fin, op: opText, payload: []byte(p)} }
func cont(fin bool, p string) frame { return frame{fin: fin, op: opCont, payload: []byte(p)} }
func ping(p string) frame           { return frame{fin: true, op: opPing, payload: []byte(p)} }
func closeFrame(p []byte) frame     { return frame{fin: true, op: opClose, payload: p} }
func withChop(f frame, n int) frame { f.chop = n; return f }
func withSync(f frame) frame        { f.sync = true; return f }
func chopAll(n int, fs ...frame) []frame {
	out := make([]frame, len(fs))
	for i, f := range fs {
		out[i] = withChop(f, n)
	}
	return out
}
func syncAll(fs ...frame) []frame {
	out := make([]frame, len(fs))
	for i, f := range fs {
		out[i] = withSync(f)
	}
	return out
}

// fragments splits a message into frames of at most size bytes
// (Autobahn's sendMessage with fragmentSize).
func fragments(op byte, p []byte, size int) []frame {
	var out []frame
	for first := true; first || len(p) > 0; first = false {
		m := min(size, len(p))
		f := frame{fin: m == len(p), op: opCont, payload: p[:m]}
		if first {
			f.op = op
		}
		out = append(out, f)
		p = p[m:]
	}
	return out
}

// Limits of the servers that the limit cases (section 10) run against.
var limitOptions = &ws.AcceptOptions{Options: ws.Options{
	MaxIncomingFrameSize:   16 << 10,
	MaxIncomingMessageSize: 64 << 10,
}}
