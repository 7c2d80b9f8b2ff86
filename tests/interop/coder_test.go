package interop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// coder/websocket as a peer, client and server, in process.

// coderRunCase runs a clientCase with a coder client.
func coderRunCase(c clientCase) (res clientResult) {
	res.ID = c.ID
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var mu sync.Mutex
	var pings, pongs []string
	conn, _, err := websocket.Dial(ctx, c.URL, &websocket.DialOptions{
		OnPingReceived: func(_ context.Context, p []byte) bool {
			mu.Lock()
			pings = append(pings, string(p))
			mu.Unlock()
			return true
		},
		OnPongReceived: func(_ context.Context, p []byte) {
			mu.Lock()
			pongs = append(pongs, string(p))
			mu.Unlock()
		},
	})
	if err != nil {
		return failed(res, err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(maxMessage)

	switch c.Op {
	case opEcho:
		typ, p := websocket.MessageText, testpeer.TextPayload(c.Size)
		if c.Type == "binary" {
			typ, p = websocket.MessageBinary, testpeer.BinaryPayload(c.Size)
		}
		if err := conn.Write(ctx, typ, p); err != nil {
			return failed(res, err)
		}
		typ, got, err := conn.Read(ctx)
		if err != nil {
			return failed(res, err)
		}
		res.Type, res.Len, res.SHA256 = messageTypeName(typ == websocket.MessageBinary), len(got), sha(got)
	case opFrag:
		// coder's Writer sends each Write as one frame.
		w, err := conn.Writer(ctx, websocket.MessageText)
		if err != nil {
			return failed(res, err)
		}
		for i := range len(c.Text) {
			if _, err := w.Write([]byte(c.Text[i : i+1])); err != nil {
				return failed(res, err)
			}
		}
		if err := w.Close(); err != nil {
			return failed(res, err)
		}
		typ, got, err := conn.Read(ctx)
		if err != nil {
			return failed(res, err)
		}
		res.Type, res.Text = messageTypeName(typ == websocket.MessageBinary), string(got)
	case opPing:
		// coder's Ping chooses its own payload and needs a concurrent
		// reader; it returns once the pong with that payload arrived.
		readErr := coderReadLoop(ctx, conn)
		if err := conn.Ping(ctx); err != nil {
			return failed(res, err)
		}
		mu.Lock()
		res.Pong = strings.Join(pongs, ",")
		mu.Unlock()
		res.Code, res.Reason = coderClose(conn, websocket.StatusNormalClosure, "", readErr)
		return res
	case opClose:
		res.Code, res.Reason = coderCloseAlone(conn, websocket.StatusCode(c.Code), c.Reason)
		return res
	case opAwaitClose:
		if err := conn.Write(ctx, websocket.MessageText, []byte("close me")); err != nil {
			return failed(res, err)
		}
		_, _, err := conn.Read(ctx)
		res.Code, res.Reason = coderCloseStatus(err)
		return res
	case opAwaitPing:
		if err := conn.Write(ctx, websocket.MessageText, []byte("ping me")); err != nil {
			return failed(res, err)
		}
		_, got, err := conn.Read(ctx)
		if err != nil {
			return failed(res, err)
		}
		mu.Lock()
		res.Text, res.Pings = string(got), pings
		mu.Unlock()
	default:
		return failed(res, fmt.Errorf("unknown op %q", c.Op))
	}
	res.Code, res.Reason = coderCloseAlone(conn, websocket.StatusNormalClosure, "")
	return res
}

// coderReasonUnknown stands for the reason of the peer's answer to
// coder's Close, which coder does not expose.
const coderReasonUnknown = "(reason not exposed by coder)"

// coderCloseAlone runs coder's close handshake with no reader running.
// Close returns nil only when the peer answered with the same code; the
// answer's reason is not exposed.
func coderCloseAlone(conn *websocket.Conn, code websocket.StatusCode, reason string) (int, string) {
	if err := conn.Close(code, reason); err != nil {
		c, r := coderCloseStatus(err)
		return c, r + "; Close: " + err.Error()
	}
	return int(code), coderReasonUnknown
}

// coderReadLoop reads (and drops) messages until an error, which it
// reports. coder hands the peer's close frame to a reader running when it
// arrives.
func coderReadLoop(ctx context.Context, conn *websocket.Conn) chan error {
	readErr := make(chan error, 1)
	go func() {
		for {
			if _, _, err := conn.Read(ctx); err != nil {
				readErr <- err
				return
			}
		}
	}()
	return readErr
}

// coderClose runs coder's close handshake while readErr's goroutine reads,
// and returns the code and reason of the peer's answer.
func coderClose(conn *websocket.Conn, code websocket.StatusCode, reason string, readErr chan error) (int, string) {
	closeErr := conn.Close(code, reason)
	code2, reason2 := coderCloseStatus(<-readErr)
	switch {
	case code2 == -1 && closeErr == nil:
		return coderCloseWon(code)
	case code2 == -1:
		reason2 += "; Close: " + closeErr.Error()
	}
	return code2, reason2
}

// coderCloseWon is the answer to coder's Close when Close, not the
// reader, read it: coder lets whichever of them takes its read lock first
// read the peer's close frame, and the reader then fails with "use of
// closed network connection". Close returned nil, which coder does only
// when the answer has the code sent; its reason is not exposed.
func coderCloseWon(code websocket.StatusCode) (int, string) {
	return int(code), coderReasonUnknown
}

func coderCloseStatus(err error) (int, string) {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return int(ce.Code), ce.Reason
	}
	return -1, fmt.Sprintf("no close frame: %v", err)
}

// coderHold connects with coder, exchanges one message and returns a
// function that closes the TCP connection without a close frame.
func coderHold(t *testing.T, url string) func() {
	ctx := context.Background()
	conn, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	if err := conn.Write(ctx, websocket.MessageText, []byte("hold")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := conn.Read(ctx); err != nil {
		t.Fatal(err)
	}
	return func() { conn.CloseNow() }
}

// startCoderServer starts a coder echo server with the paths of
// script_test.go.
func startCoderServer(t *testing.T) *theirServer {
	return startGoServer(t, func(w http.ResponseWriter, r *http.Request, c goConn) {
		pongs := make(chan string, 4)
		conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
			OnPongReceived: func(_ context.Context, p []byte) {
				select {
				case pongs <- string(p):
				default:
				}
			},
		})
		if err != nil {
			c.failed(err)
			return
		}
		defer conn.CloseNow()
		c.track(func() { conn.CloseNow() })
		conn.SetReadLimit(maxMessage)
		c.closed(coderCloseStatus(coderServe(r, conn, pongs)))
	})
}

// coderServe echoes until the connection ends and returns the read error.
func coderServe(r *http.Request, conn *websocket.Conn, pongs chan string) error {
	ctx := r.Context()
	first := true
	var closing chan error // the result of Close, started on /close
	var closeCode int
	for {
		typ, p, err := conn.Read(ctx)
		if err != nil {
			if closing != nil {
				if cerr := <-closing; cerr == nil && websocket.CloseStatus(err) == -1 {
					code, reason := coderCloseWon(websocket.StatusCode(closeCode))
					return websocket.CloseError{Code: websocket.StatusCode(code), Reason: reason}
				}
			}
			return err
		}
		wasFirst := first
		first = false
		switch {
		case r.URL.Path == "/close" && wasFirst:
			// Close in the background: this goroutine, the reader,
			// usually receives the answer with its reason (else Close
			// does: coderCloseWon).
			closeCode, _ = strconv.Atoi(r.URL.Query().Get("code"))
			closing = make(chan error, 1)
			go func() { closing <- conn.Close(websocket.StatusCode(closeCode), r.URL.Query().Get("reason")) }()
			continue
		case r.URL.Path == "/ping" && wasFirst:
			// coder's Ping has its own payload; ping, then report the pong.
			go func() {
				pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				if err := conn.Ping(pctx); err != nil {
					return
				}
				_ = conn.Write(pctx, websocket.MessageText, []byte("pong:"+<-pongs))
			}()
			continue
		case r.URL.Path == "/frag" && len(p) > 1:
			w, err := conn.Writer(ctx, typ)
			if err != nil {
				return err
			}
			for i := range p {
				if _, err := w.Write(p[i : i+1]); err != nil {
					return err
				}
			}
			if err := w.Close(); err != nil {
				return err
			}
			continue
		}
		if err := conn.Write(ctx, typ, p); err != nil {
			return err
		}
	}
}
