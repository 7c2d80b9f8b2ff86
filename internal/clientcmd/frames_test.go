package clientcmd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/wssproxy/wssproxy/ws"
)

// frameLog is what frameServer saw of the client's first message.
type frameLog struct {
	mu     sync.Mutex
	sizes  []int64
	ops    []ws.OpCode
	data   []byte
	closed ws.StatusCode
}

// frameServer accepts one client, records the frames of its first message
// and echoes the message whole, then answers the client's close.
func frameServer(t *testing.T) (string, *frameLog) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := &frameLog{}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := ws.Accept(w, r, &ws.AcceptOptions{Options: ws.Options{MaxIncomingMessageSize: 8 << 20}})
		if err != nil {
			return
		}
		defer c.Abort()
		var typ ws.OpCode
		for {
			h, rd, err := c.NextFrame(ctx)
			if err != nil {
				var ce *ws.CloseError
				if errors.As(err, &ce) {
					log.mu.Lock()
					log.closed = ce.Code
					log.mu.Unlock()
				}
				return
			}
			if h.OpCode.IsControl() {
				continue
			}
			if h.OpCode != ws.OpContinuation {
				typ = h.OpCode
			}
			p, err := io.ReadAll(rd)
			if err != nil {
				return
			}
			log.mu.Lock()
			log.sizes = append(log.sizes, h.Length)
			log.ops = append(log.ops, h.OpCode)
			log.data = append(log.data, p...)
			msg := bytes.Clone(log.data)
			log.mu.Unlock()
			if h.Fin {
				if c.WriteMessage(ctx, typ, msg) != nil {
					return
				}
			}
		}
	})}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { cancel(); srv.Close(); <-done })
	return "ws://" + ln.Addr().String() + "/", log
}

// --binary sends stdin as one message in frames of at most
// --outgoing-frame-size, a frame per read, and the reply comes back
// byte for byte.
func TestClientBinaryFrames(t *testing.T) {
	url, log := frameServer(t)
	data := bytes.Repeat([]byte{0, 1, 2, 3, 0xff, 'x', '\n'}, 40000) // 280000 bytes
	code, out, errOut := clientRun(t, bytes.NewReader(data), url, "--binary", "--outgoing-frame-size", "64KiB")
	if code != ExitOK || out != string(data) {
		t.Fatalf("exit %d, %d bytes back of %d, %q", code, len(out), len(data), errOut)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if log.ops[0] != ws.OpBinary || !bytes.Equal(log.data, data) {
		t.Fatalf("server got %v, %d bytes", log.ops, len(log.data))
	}
	var total int64
	for i, n := range log.sizes {
		if n > 64<<10 {
			t.Fatalf("frame %d has %d bytes, more than --outgoing-frame-size", i, n)
		}
		if i > 0 && log.ops[i] != ws.OpContinuation {
			t.Fatalf("frame %d is %v: not one message", i, log.ops[i])
		}
		total += n
	}
	if len(log.sizes) < 5 || total != int64(len(data)) {
		t.Fatalf("frames %v", log.sizes)
	}
	if log.closed != ws.StatusNormalClosure {
		t.Fatalf("server saw close %v", log.closed)
	}
}
