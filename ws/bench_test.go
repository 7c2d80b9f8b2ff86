package ws_test

// Benchmarks of package ws (issue 2, Performance). Run them with
// scripts/bench.sh; results and the machine are in BENCHMARKS.md.
//
// Sub-benchmark names use key=value parts (size=, impl=) so that
// benchstat can put implementations side by side: -col /impl.

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
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

// echoSizes are the message sizes of the echo benchmarks.
var echoSizes = []int{128, 64 << 10}

func sizeName(n int) string {
	if n >= 1<<10 && n%(1<<10) == 0 {
		return itoa(n>>10) + "KiB"
	}
	return itoa(n) + "B"
}

// echoImpl is one WebSocket implementation in the echo benchmark: its
// server (an http.Handler echoing every message with its type) and its
// client. Our implementation is "ours"; bench_peers_test.go registers
// gorilla/websocket and coder/websocket in echoPeers.
type echoImpl struct {
	name    string
	handler func(w http.ResponseWriter, r *http.Request)
	dial    func(ctx context.Context, url string) (echoClient, error)
}

// echoClient sends one binary message and reads the echo into buf,
// returning it (buf is reused when large enough).
type echoClient interface {
	roundTrip(ctx context.Context, msg, buf []byte) ([]byte, error)
	close() error
}

var echoPeers []echoImpl

// BenchmarkEcho measures one binary message sent by a client and echoed
// back by a server of the same implementation over loopback TCP: our
// client and server, then each peer's (impl=gorilla, impl=coder), in one
// run so that ratios compare like with like. Both sides read into reused
// buffers through the implementation's streaming reader and write with its
// one-call message write; default options otherwise (no compression).
// Allocations count both sides. SetBytes is the message size, one way.
func BenchmarkEcho(b *testing.B) {
	impls := append([]echoImpl{oursEcho}, echoPeers...)
	for _, size := range echoSizes {
		for _, impl := range impls {
			b.Run("size="+sizeName(size)+"/impl="+impl.name, func(b *testing.B) {
				benchEcho(b, impl, size)
			})
		}
	}
}

func benchEcho(b *testing.B, impl echoImpl, size int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var handlers sync.WaitGroup
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
		impl.handler(w, r)
	})}
	go srv.Serve(ln)
	defer func() {
		srv.Close()
		handlers.Wait()
	}()

	ctx := context.Background()
	c, err := impl.dial(ctx, "ws://"+ln.Addr().String()+"/echo")
	if err != nil {
		b.Fatal(err)
	}
	defer c.close()
	msg := payloadOf(size)
	buf := make([]byte, 0, size)
	// One round trip first, so that the server's setup (its buffers, its
	// first message buffer) is not counted in the measured loop.
	if buf, err = c.roundTrip(ctx, msg, buf); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		buf, err = c.roundTrip(ctx, msg, buf)
		if err != nil {
			b.Fatal(err)
		}
		if len(buf) != size {
			b.Fatalf("echo of %d bytes, want %d", len(buf), size)
		}
	}
}

// readInto reads r to its end into buf[:0], growing buf only when needed.
func readInto(r io.Reader, buf []byte) ([]byte, error) {
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

var oursEcho = echoImpl{
	name: "ours",
	handler: func(w http.ResponseWriter, r *http.Request) {
		c, err := ws.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.Abort()
		ctx := context.Background()
		var buf []byte
		for {
			typ, rd, err := c.Reader(ctx)
			if err != nil {
				return
			}
			if buf, err = readInto(rd, buf); err != nil {
				return
			}
			if err := c.WriteMessage(ctx, typ, buf); err != nil {
				return
			}
		}
	},
	dial: func(ctx context.Context, url string) (echoClient, error) {
		c, _, err := ws.Dial(ctx, url, nil)
		if err != nil {
			return nil, err
		}
		return oursClient{c}, nil
	},
}

type oursClient struct{ c *ws.Conn }

func (o oursClient) roundTrip(ctx context.Context, msg, buf []byte) ([]byte, error) {
	if err := o.c.WriteMessage(ctx, ws.MessageBinary, msg); err != nil {
		return buf, err
	}
	_, r, err := o.c.Reader(ctx)
	if err != nil {
		return buf, err
	}
	return readInto(r, buf)
}

func (o oursClient) close() error {
	err := o.c.Close(ws.StatusNormalClosure, "")
	if errors.Is(err, ws.ErrClosed) {
		return nil
	}
	return err
}
