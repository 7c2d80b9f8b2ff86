package ws_test

// Benchmarks of package ws (issue 2, Performance). Run them with
// scripts/bench.sh; results and the machine are in BENCHMARKS.md. The
// loopback echo against gorilla/websocket and coder/websocket is in the
// tests module (tests/thirdparty), which keeps those libraries out of
// this module's go.mod.
//
// Sub-benchmark names use key=value parts (size=, impl=) so that
// benchstat can put implementations side by side: -col /impl.

import (
	"bufio"
	"context"
	"io"
	"testing"

	"github.com/wssproxy/wssproxy/ws"
)

// loopReader serves data over and over, never returning io.EOF.
type loopReader struct {
	data []byte
	off  int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m := copy(p[n:], r.data[r.off:])
		n += m
		r.off += m
		if r.off == len(r.data) {
			r.off = 0
		}
	}
	return n, nil
}

// headerCases cover the three length encodings, masked and not.
var headerCases = []struct {
	name string
	h    ws.Header
}{
	{"len=7", ws.Header{Fin: true, OpCode: ws.OpText, Length: 7}},
	{"len=7/masked", ws.Header{Fin: true, OpCode: ws.OpText, Length: 7, Masked: true, Mask: [4]byte{1, 2, 3, 4}}},
	{"len=1000/masked", ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 1000, Masked: true, Mask: [4]byte{1, 2, 3, 4}}},
	{"len=1e6/masked", ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 1e6, Masked: true, Mask: [4]byte{1, 2, 3, 4}}},
}

// BenchmarkReadHeader decodes headers from a bufio.Reader, as Conn does.
func BenchmarkReadHeader(b *testing.B) {
	for _, tc := range headerCases {
		b.Run(tc.name, func(b *testing.B) {
			var buf [ws.MaxHeaderSize]byte
			n, err := ws.PutHeader(&buf, tc.h)
			if err != nil {
				b.Fatal(err)
			}
			// Many copies, so the bufio refills are amortised as in a stream.
			var enc []byte
			for range 256 {
				enc = append(enc, buf[:n]...)
			}
			br := bufio.NewReaderSize(&loopReader{data: enc}, 4096)
			b.ReportAllocs()
			for b.Loop() {
				h, err := ws.ReadHeader(br, &buf)
				if err != nil || h.Length != tc.h.Length {
					b.Fatal(h, err)
				}
			}
		})
	}
}

// BenchmarkPutHeader encodes headers into a caller buffer.
func BenchmarkPutHeader(b *testing.B) {
	for _, tc := range headerCases {
		b.Run(tc.name, func(b *testing.B) {
			var buf [ws.MaxHeaderSize]byte
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ws.PutHeader(&buf, tc.h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWriteHeader encodes headers and writes them to a bufio.Writer
// in front of io.Discard, as Conn does.
func BenchmarkWriteHeader(b *testing.B) {
	for _, tc := range headerCases {
		b.Run(tc.name, func(b *testing.B) {
			var buf [ws.MaxHeaderSize]byte
			bw := bufio.NewWriterSize(io.Discard, 4096)
			b.ReportAllocs()
			for b.Loop() {
				if err := ws.WriteHeader(bw, &buf, tc.h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// maskNaive is the byte-at-a-time baseline Mask is measured against.
func maskNaive(key [4]byte, pos int, b []byte) int {
	for i := range b {
		b[i] ^= key[(pos+i)&3]
	}
	return (pos + len(b)) & 3
}

var maskSizes = []struct {
	name string
	n    int
}{{"16B", 16}, {"1KiB", 1 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}}

// BenchmarkMask reports masking throughput (MB/s) of ws.Mask beside the
// naive loop: impl=ws and impl=naive.
func BenchmarkMask(b *testing.B) {
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	for _, sz := range maskSizes {
		for _, impl := range []struct {
			name string
			f    func([4]byte, int, []byte) int
		}{{"ws", ws.Mask}, {"naive", maskNaive}} {
			b.Run("size="+sz.name+"/impl="+impl.name, func(b *testing.B) {
				p := make([]byte, sz.n)
				b.SetBytes(int64(sz.n))
				b.ReportAllocs()
				pos := 0
				for b.Loop() {
					pos = impl.f(key, pos, p)
				}
			})
		}
	}
}

// BenchmarkConnReadFrame measures the per-frame read path without a
// network: a server Conn reading masked frames from memory (NextFrame and
// io.ReadFull into a caller buffer).
func BenchmarkConnReadFrame(b *testing.B) {
	ctx := context.Background()
	for _, size := range []int{128, 64 << 10} {
		b.Run("size="+sizeName(size), func(b *testing.B) {
			c := fakeServer(b, frameStream(b, ws.OpBinary, payloadOf(size), true, 4))
			buf := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				_, r, err := c.NextFrame(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(r, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkConnWriteFrame measures the per-frame write path without a
// network: WriteMessage of one binary frame to a discarding connection,
// unmasked (server) and masked (client).
func BenchmarkConnWriteFrame(b *testing.B) {
	ctx := context.Background()
	for _, side := range []string{"server", "client"} {
		for _, size := range []int{128, 64 << 10} {
			b.Run("side="+side+"/size="+sizeName(size), func(b *testing.B) {
				var c *ws.Conn
				if side == "server" {
					c = fakeServer(b, nil)
				} else {
					c = fakeClient(b, nil)
				}
				p := payloadOf(size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.WriteMessage(ctx, ws.MessageBinary, p); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func sizeName(n int) string {
	if n >= 1<<10 && n%(1<<10) == 0 {
		return itoa(n>>10) + "KiB"
	}
	return itoa(n) + "B"
}

// BenchmarkReadUpgrade reads and checks a browser-sized upgrade request
// from memory: the bytes it allocates per request are what every
// connection's handshake costs the GC.
func BenchmarkReadUpgrade(b *testing.B) {
	req := []byte("GET /chat?room=1 HTTP/1.1\r\nHost: example.com:8443\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: https://example.com\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		u, err := ws.ReadUpgrade(ctx, &fakeConn{head: req}, nil)
		if err != nil {
			b.Fatal(err)
		}
		_ = u.Reject(403, "benchmark") // gives the read buffer back
	}
}
