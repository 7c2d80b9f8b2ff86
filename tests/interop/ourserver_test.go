package interop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/ws"
	"github.com/wssproxy/wssproxy/ws/echo"
)

// ourServer is the server side under test: ws.Accept behind net/http,
// echoing with ws/echo. Each connection whose URL has ?id= reports what it
// saw as an observation.
type ourServer struct {
	srv *httptest.Server
	url string // ws://127.0.0.1:port

	mu  sync.Mutex
	obs map[string]chan *observation
}

// observation is what our server saw on one connection.
type observation struct {
	mu     sync.Mutex
	pings  []string // payloads of the peer's pings (Events.OnPing)
	pongs  []string // payloads of pongs (Events.OnPong)
	rtt    time.Duration
	frames int    // data frames of the first message (do=frag)
	first  []byte // first message (do=frag)
	// err is what ended the connection: echo.Serve's result (nil after a
	// clean close handshake), or Close's result for do=close.
	err        error
	code       ws.StatusCode // CloseStatus at the end
	reason     string
	handlerErr string // a failure of the scripted handler itself
}

func (o *observation) addPing(p []byte) {
	o.mu.Lock()
	o.pings = append(o.pings, string(p))
	o.mu.Unlock()
}

func startOurServer(t *testing.T) *ourServer {
	s := &ourServer{obs: map[string]chan *observation{}}
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	s.url = "ws" + strings.TrimPrefix(s.srv.URL, "http")
	return s
}

func (s *ourServer) channel(id string) chan *observation {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.obs[id]
	if !ok {
		ch = make(chan *observation, 1)
		s.obs[id] = ch
	}
	return ch
}

// caseURL returns the URL of a connection with the given id and mode
// (do=echo|frag|close|ping) and extra query parameters.
func (s *ourServer) caseURL(id, do string, extra ...string) string {
	q := url.Values{"id": {id}, "do": {do}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return s.url + "/?" + q.Encode()
}

// observation waits for the observation of connection id.
func (s *ourServer) observation(t *testing.T, id string) *observation {
	t.Helper()
	select {
	case o := <-s.channel(id):
		return o
	case <-time.After(20 * time.Second):
		t.Fatalf("our server reported nothing for connection %s", id)
		return nil
	}
}

func (s *ourServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id, do := q.Get("id"), q.Get("do")
	o := &observation{}
	pongs := make(chan []byte, 4)
	opts := &ws.AcceptOptions{Options: ws.Options{
		MaxIncomingFrameSize:   maxMessage,
		MaxIncomingMessageSize: maxMessage,
		Events: ws.Events{
			OnPing: o.addPing,
			OnPong: func(elapsed time.Duration, p []byte) {
				o.mu.Lock()
				o.pongs = append(o.pongs, string(p))
				o.rtt = elapsed
				o.mu.Unlock()
				select {
				case pongs <- append([]byte(nil), p...):
				default:
				}
			},
		},
	}}
	if do == "frag" {
		opts.OutgoingFrameSize = 1
	}
	c, err := ws.Accept(w, r, opts)
	if err != nil {
		o.handlerErr = "accept: " + err.Error()
		s.report(id, o)
		return
	}
	ctx := context.Background()
	switch do {
	case "frag":
		o.err = s.serveFrag(ctx, c, o)
	case "close":
		o.err = s.serveClose(ctx, c, o, q)
	case "ping":
		o.err = s.servePing(ctx, c, o, pongs)
	default:
		o.err = echo.Serve(ctx, c)
	}
	c.Abort()
	o.code, o.reason = c.CloseStatus()
	s.report(id, o)
}

func (s *ourServer) report(id string, o *observation) {
	if id != "" {
		s.channel(id) <- o
	}
}

// serveFrag reads the first message frame by frame, counting its frames,
// echoes it (in one-byte frames: OutgoingFrameSize is 1), then echoes the
// rest of the connection.
func (s *ourServer) serveFrag(ctx context.Context, c *ws.Conn, o *observation) error {
	var typ ws.MessageType
	for {
		h, r, err := c.NextFrame(ctx)
		if err != nil {
			return err
		}
		if h.OpCode.IsControl() {
			continue
		}
		if h.OpCode != ws.OpContinuation {
			typ = h.OpCode
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(r, p); err != nil {
			return err
		}
		o.frames++
		o.first = append(o.first, p...)
		if h.Fin {
			break
		}
	}
	if err := c.WriteMessage(ctx, typ, o.first); err != nil {
		return err
	}
	return echo.Serve(ctx, c)
}

// serveClose waits for one message, then closes with the code and reason
// of the query; the result is Close's.
func (s *ourServer) serveClose(ctx context.Context, c *ws.Conn, o *observation, q url.Values) error {
	if _, _, err := c.ReadMessage(ctx); err != nil {
		o.handlerErr = "reading the first message: " + err.Error()
		return err
	}
	code, err := strconv.Atoi(q.Get("code"))
	if err != nil {
		o.handlerErr = "bad code: " + err.Error()
		return err
	}
	return c.Close(ws.StatusCode(code), q.Get("reason"))
}

// servePing waits for one message, pings the client, waits for the pong
// while echoing, sends "pinged", and echoes until the client closes.
func (s *ourServer) servePing(ctx context.Context, c *ws.Conn, o *observation, pongs <-chan []byte) error {
	if _, _, err := c.ReadMessage(ctx); err != nil {
		o.handlerErr = "reading the first message: " + err.Error()
		return err
	}
	done := make(chan error, 1)
	go func() { done <- echo.Serve(ctx, c) }()
	if err := c.Ping(ctx, []byte(srvPingPayload)); err != nil {
		o.handlerErr = "ping: " + err.Error()
		c.Abort()
		return errors.Join(err, <-done)
	}
	select {
	case <-pongs:
	case <-time.After(10 * time.Second):
		o.handlerErr = "no pong within 10s"
		c.Abort()
		return <-done
	}
	if err := c.WriteMessage(ctx, ws.MessageText, []byte("pinged")); err != nil {
		o.handlerErr = fmt.Sprintf("writing pinged: %v", err)
	}
	return <-done
}
