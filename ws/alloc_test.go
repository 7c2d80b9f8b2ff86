package ws_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/wssproxy/wssproxy/ws"
)

// The steady-state frame paths allocate nothing: these tests lock that in.
// testing.AllocsPerRun runs the function once to warm up (buffers are
// allocated when a Conn is made, never per frame) and then counts.

const allocRuns = 200

func assertNoAllocs(t *testing.T, what string, f func()) {
	t.Helper()
	if n := testing.AllocsPerRun(allocRuns, f); n != 0 {
		t.Errorf("%s: %v allocations per frame, want 0", what, n)
	}
}

// allocPayloads are the payload sizes the read and write paths are
// checked with: the three header length encodings, and a frame larger than
// the read and write buffers.
var allocPayloads = []int{0, 125, 4 << 10, 70000}

func payloadOf(n int) []byte {
	return bytes.Repeat([]byte("0123456789abcdé"), n/16+1)[:n]
}

func TestZeroAllocFrameRead(t *testing.T) {
	ctx := context.Background()
	for _, side := range []string{"server", "client"} {
		for _, op := range []ws.OpCode{ws.OpBinary, ws.OpText} {
			for _, size := range allocPayloads {
				payload := []byte(strings.Repeat("a", size)) // valid UTF-8 at any cut
				t.Run(side+"/"+op.String()+"/"+itoa(size), func(t *testing.T) {
					var c *ws.Conn
					if side == "server" {
						c = fakeServer(t, frameStream(t, op, payload, true, 4))
					} else {
						c = fakeClient(t, frameStream(t, op, payload, false, 4))
					}
					buf := make([]byte, size)
					var err error
					assertNoAllocs(t, "NextFrame+ReadFull", func() {
						var h ws.Header
						var r io.Reader
						h, r, err = c.NextFrame(ctx)
						if err != nil {
							return
						}
						if _, err = io.ReadFull(r, buf[:h.Length]); err != nil {
							return
						}
					})
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(buf, payload) {
						t.Fatal("payload read back differs")
					}
					assertNoAllocs(t, "Reader+ReadFull", func() {
						var r io.Reader
						if _, r, err = c.Reader(ctx); err != nil {
							return
						}
						if _, err = io.ReadFull(r, buf); err != nil {
							return
						}
					})
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(buf, payload) {
						t.Fatal("payload read back differs")
					}
				})
			}
		}
	}
}

func TestZeroAllocFrameWrite(t *testing.T) {
	ctx := context.Background()
	for _, side := range []string{"server", "client"} {
		for _, op := range []ws.OpCode{ws.OpBinary, ws.OpText} {
			for _, size := range allocPayloads {
				payload := payloadOf(size)
				t.Run(side+"/"+op.String()+"/"+itoa(size), func(t *testing.T) {
					var c *ws.Conn
					if side == "server" {
						c = fakeServer(t, nil)
					} else {
						c = fakeClient(t, nil)
					}
					var err error
					assertNoAllocs(t, "WriteFrame", func() {
						if e := c.WriteFrame(ctx, ws.Header{Fin: true, OpCode: op}, payload); e != nil {
							err = e
						}
					})
					assertNoAllocs(t, "WriteMessage", func() {
						if e := c.WriteMessage(ctx, op, payload); e != nil {
							err = e
						}
					})
					if op == ws.OpBinary {
						assertNoAllocs(t, "Ping", func() {
							if e := c.Ping(ctx, payload[:min(size, ws.MaxControlPayload)]); e != nil {
								err = e
							}
						})
					}
					if err != nil {
						t.Fatal(err)
					}
				})
			}
		}
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
