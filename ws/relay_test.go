package ws_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/wssproxy/wssproxy/ws"
)

// A client relaying frames it read from a server connection (the proxy's
// client->upstream direction) re-masks them in one pass; whatever the
// piece sizes (which put the two keys at different positions) the payload
// arrives intact. Text without an extension takes the checked path.
func TestRelayRemasksFrames(t *testing.T) {
	t.Parallel()
	in, s := rawClient(t, nil)  // in: raw client -> s (server conn)
	out, c := rawServer(t, nil) // c (client conn) -> out: raw server
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		op     byte
		size   int
		pieces []int
	}{
		{0x2, 1000, []int{1000}},
		{0x2, 1000, []int{333, 333, 334}},
		{0x2, 70000, []int{1, 2, 3, 5, 69989}},
		{0x2, 5, []int{5}},
		{0x1, 3000, []int{1001, 1999}}, // text: checked path
	} {
		payload := make([]byte, tc.size)
		for i := range payload {
			payload[i] = byte(rng.IntN(256))
		}
		if tc.op == 0x1 {
			payload = bytes.Repeat([]byte("ab"), tc.size/2)
		}
		go in.nc.Write(in.frame(0x80|tc.op, payload))
		h, r, err := s.NextFrame(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		op := h.OpCode
		for i, n := range tc.pieces {
			piece := ws.Header{OpCode: op, Fin: i == len(tc.pieces)-1, Length: int64(n)}
			if err := c.WriteFrameFrom(context.Background(), piece, r); err != nil {
				t.Fatal(err)
			}
			op = ws.OpContinuation
		}
		var got []byte
		for range tc.pieces {
			fh, p, err := out.read()
			if err != nil || !fh.Masked {
				t.Fatalf("%+v %v", fh, err)
			}
			got = append(got, p...)
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("size %d pieces %v: payload corrupted", tc.size, tc.pieces)
		}
	}
}
