package interop

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// gorilla/websocket as a peer, client and server, in process.

const gorillaWait = 10 * time.Second

// gorillaRunCase runs a clientCase with a gorilla client.
func gorillaRunCase(c clientCase) (res clientResult) {
	res.ID = c.ID
	d := websocket.Dialer{HandshakeTimeout: gorillaWait}
	if c.Op == opFrag {
		// gorilla has no frame API; its messages are cut into frames of
		// the write buffer's size, so a 1-byte buffer sends 1-byte frames.
		d.WriteBufferSize = 1
	}
	conn, _, err := d.Dial(c.URL, nil)
	if err != nil {
		return failed(res, err)
	}
	defer conn.Close()
	conn.SetReadLimit(maxMessage)
	_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	var pings []string
	conn.SetPingHandler(func(data string) error {
		pings = append(pings, data)
		return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(gorillaWait))
	})

	switch c.Op {
	case opEcho:
		typ, p := websocket.TextMessage, testpeer.TextPayload(c.Size)
		if c.Type == "binary" {
			typ, p = websocket.BinaryMessage, testpeer.BinaryPayload(c.Size)
		}
		if err := conn.WriteMessage(typ, p); err != nil {
			return failed(res, err)
		}
		typ, got, err := conn.ReadMessage()
		if err != nil {
			return failed(res, err)
		}
		res.Type, res.Len, res.SHA256 = messageTypeName(typ == websocket.BinaryMessage), len(got), sha(got)
	case opFrag:
		if err := conn.WriteMessage(websocket.TextMessage, []byte(c.Text)); err != nil {
			return failed(res, err)
		}
		typ, got, err := conn.ReadMessage()
		if err != nil {
			return failed(res, err)
		}
		res.Type, res.Text = messageTypeName(typ == websocket.BinaryMessage), string(got)
	case opPing:
		pong := make(chan string, 1)
		conn.SetPongHandler(func(data string) error { pong <- data; return nil })
		if err := conn.WriteControl(websocket.PingMessage, []byte(c.Payload), time.Now().Add(gorillaWait)); err != nil {
			return failed(res, err)
		}
		// gorilla handles control frames while reading: read until the
		// pong arrives (it interrupts nothing, so close to end the read).
		readErr := make(chan error, 1)
		go func() {
			_, _, err := conn.ReadMessage()
			readErr <- err
		}()
		select {
		case res.Pong = <-pong:
		case err := <-readErr:
			return failed(res, fmt.Errorf("no pong before %w", err))
		case <-time.After(gorillaWait):
			return failed(res, errors.New("no pong within 10s"))
		}
		// The reader goroutine reports the close below.
		res.Code, res.Reason = gorillaClose(conn, websocket.CloseNormalClosure, "", readErr)
		return res
	case opClose:
		res.Code, res.Reason = gorillaClose(conn, c.Code, c.Reason, nil)
		return res
	case opAwaitClose:
		if err := conn.WriteMessage(websocket.TextMessage, []byte("close me")); err != nil {
			return failed(res, err)
		}
		_, _, err := conn.ReadMessage()
		res.Code, res.Reason = gorillaCloseStatus(err)
		return res
	case opAwaitPing:
		if err := conn.WriteMessage(websocket.TextMessage, []byte("ping me")); err != nil {
			return failed(res, err)
		}
		_, got, err := conn.ReadMessage()
		if err != nil {
			return failed(res, err)
		}
		res.Text, res.Pings = string(got), pings
	default:
		return failed(res, fmt.Errorf("unknown op %q", c.Op))
	}
	res.Code, res.Reason = gorillaClose(conn, websocket.CloseNormalClosure, "", nil)
	return res
}

// gorillaClose sends a close frame and reads until the peer's close,
// returning its code and reason. gorilla has no close handshake of its
// own: the application writes the close frame and reads the answer.
// readErr, if set, is a goroutine already reading that reports its error.
func gorillaClose(conn *websocket.Conn, code int, reason string, readErr chan error) (int, string) {
	msg := websocket.FormatCloseMessage(code, reason)
	if err := conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(gorillaWait)); err != nil {
		return -1, "writing close: " + err.Error()
	}
	var err error
	if readErr != nil {
		err = <-readErr
	} else {
		for err == nil {
			_, _, err = conn.ReadMessage()
		}
	}
	return gorillaCloseStatus(err)
}

func gorillaCloseStatus(err error) (int, string) {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Text
	}
	return -1, fmt.Sprintf("no close frame: %v", err)
}

// gorillaHold connects with gorilla, exchanges one message and returns a
// function that closes the TCP connection without a close frame.
func gorillaHold(t *testing.T, url string) func() {
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.WriteMessage(websocket.TextMessage, []byte("hold")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := conn.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	return func() { conn.NetConn().Close() }
}

// startGorillaServer starts a gorilla echo server with the paths of
// script_test.go.
func startGorillaServer(t *testing.T) *theirServer {
	return startGoServer(t, func(w http.ResponseWriter, r *http.Request, c goConn) {
		up := websocket.Upgrader{}
		if r.URL.Path == "/frag" {
			up.WriteBufferSize = 1 // one-byte frames, see gorillaRunCase
		}
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			c.failed(err)
			return
		}
		defer conn.Close()
		nc := conn.NetConn()
		c.track(func() { nc.Close() })
		conn.SetReadLimit(maxMessage)
		conn.SetPongHandler(func(data string) error {
			return conn.WriteMessage(websocket.TextMessage, []byte("pong:"+data))
		})
		c.closed(gorillaCloseStatus(gorillaServe(conn, r)))
	})
}

// gorillaServe echoes until the connection ends and returns the read error.
func gorillaServe(conn *websocket.Conn, r *http.Request) error {
	first := true
	for {
		typ, p, err := conn.ReadMessage()
		if err != nil {
			return err
		}
		wasFirst := first
		first = false
		switch {
		case r.URL.Path == "/close" && wasFirst:
			code, _ := strconv.Atoi(r.URL.Query().Get("code"))
			msg := websocket.FormatCloseMessage(code, r.URL.Query().Get("reason"))
			if err := conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(gorillaWait)); err != nil {
				return err
			}
			continue // read the answer
		case r.URL.Path == "/ping" && wasFirst:
			if err := conn.WriteControl(websocket.PingMessage, []byte(srvPingPayload), time.Now().Add(gorillaWait)); err != nil {
				return err
			}
			continue
		}
		if r.URL.Path == "/frag" {
			// A server's WriteMessage sends one frame whatever the
			// buffer size; NextWriter cuts at the 1-byte buffer.
			w, err := conn.NextWriter(typ)
			if err != nil {
				return err
			}
			if _, err := w.Write(p); err != nil {
				return err
			}
			if err := w.Close(); err != nil {
				return err
			}
			continue
		}
		if err := conn.WriteMessage(typ, p); err != nil {
			return err
		}
	}
}
