package thirdparty_test

// The loopback echo benchmark of package ws against other Go WebSocket
// libraries (gorilla/websocket, coder/websocket): test-only dependencies
// of this module, kept out of the library's go.mod. Run it with
// scripts/bench.sh (BENCH=Echo); ws/BENCHMARKS.md holds a run.
//
// Sub-benchmark names use key=value parts (size=, impl=) so that
// benchstat can put implementations side by side: -col /impl.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/wssproxy/wssproxy/ws"
)

// echoSizes are the message sizes of the echo benchmarks.
var echoSizes = []int{128, 64 << 10}

// echoImpl is one WebSocket implementation in the echo benchmark: its
// server (an http.Handler echoing every message with its type) and its
// client. Ours is "ours"; peers_bench_test.go has gorilla/websocket and
// coder/websocket.
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

// BenchmarkEcho measures one binary message sent by a client and echoed
// back by a server of the same implementation over loopback TCP: our
// client and server, then each peer's (impl=gorilla, impl=coder), in one
// run so that ratios compare like with like. Both sides read into reused
// buffers through the implementation's streaming reader and write with its
// one-call message write; default options otherwise (no compression).
// Allocations count both sides. SetBytes is the message size, one way.
func BenchmarkEcho(b *testing.B) {
	impls := []echoImpl{oursEcho, gorillaEcho, coderEcho}
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

// payloadOf returns n bytes of text, valid UTF-8 at any cut.
func payloadOf(n int) []byte {
	return bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
}

// sizeName names a size for a sub-benchmark: 128B, 64KiB.
func sizeName(n int) string {
	if n >= 1<<10 && n%(1<<10) == 0 {
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}
