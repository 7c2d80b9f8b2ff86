package proxy

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/wssproxy/wssproxy/ws"
)

// BenchmarkRelay streams binary messages client -> upstream through the
// proxy, against the same client talking to the upstream directly in the
// same run: the ratio of the two is the relay's cost.
func BenchmarkRelay(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10, 1 << 20} {
		for _, via := range []string{"direct", "proxy"} {
			b.Run(fmt.Sprintf("size=%dKiB/via=%s", size>>10, via), func(b *testing.B) {
				benchRelay(b, size, via == "proxy")
			})
		}
	}
}

func benchRelay(b *testing.B, size int, viaProxy bool) {
	// The upstream reads and discards every message, then acknowledges
	// the last one so the timing covers delivery.
	up := startUpstream(b, nil, func(c *ws.Conn) {
		buf := make([]byte, 64<<10)
		for {
			typ, r, err := c.Reader(context.Background())
			if err != nil {
				return
			}
			if _, err := io.CopyBuffer(io.Discard, r, buf); err != nil {
				return
			}
			if typ == ws.MessageText { // the last message
				c.WriteMessage(context.Background(), ws.MessageText, []byte("ack"))
			}
		}
	})
	url := up.url()
	if viaProxy {
		url, _ = startProxy(b, Options{Routes: []Route{{Upstream: url}}})
	}
	c, _, err := ws.Dial(context.Background(), url, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Abort()
	msg := make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.WriteMessage(context.Background(), ws.MessageBinary, msg); err != nil {
			b.Fatal(err)
		}
	}
	if err := c.WriteMessage(context.Background(), ws.MessageText, []byte("last")); err != nil {
		b.Fatal(err)
	}
	if _, _, err := c.ReadMessage(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
}
