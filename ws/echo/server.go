package echo

import (
	"context"
	"sync"

	"github.com/wssproxy/wssproxy/ws"
)

// tracker remembers open connections so that a shutdown can close them
// with a status code.
type tracker struct {
	mu      sync.Mutex
	conns   map[*ws.Conn]struct{}
	wg      sync.WaitGroup // tracked connections
	closing bool           // CloseAll started: later upgrades are closed at once
	code    ws.StatusCode  // CloseAll's code and reason, for those upgrades
	reason  string
	running sync.WaitGroup // ServeHTTP calls, joined by Server.Shutdown
}

// add tracks c; once CloseAll has started it returns false with the code
// and reason c must be closed with instead.
func (t *tracker) add(c *ws.Conn) (ok bool, code ws.StatusCode, reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing {
		return false, t.code, t.reason
	}
	if t.conns == nil {
		t.conns = make(map[*ws.Conn]struct{})
	}
	t.conns[c] = struct{}{}
	t.wg.Add(1)
	return true, 0, ""
}

func (t *tracker) remove(c *ws.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	t.wg.Done()
}

// CloseAll starts the closing handshake with code and reason on every open
// connection (1001 going away on shutdown) and waits until they are all
// closed or ctx ends; connections still open then are aborted. It is
// meant for shutdown: a connection upgraded after it started is closed at
// once with the same code and reason.
func (h *Handler) CloseAll(ctx context.Context, code ws.StatusCode, reason string) error {
	h.track.mu.Lock()
	h.track.closing = true
	h.track.code, h.track.reason = code, reason
	conns := make([]*ws.Conn, 0, len(h.track.conns))
	for c := range h.track.conns {
		conns = append(conns, c)
	}
	h.track.mu.Unlock()
	for _, c := range conns {
		// Serve keeps reading: echoes in flight go out before the close.
		_ = c.StartClose(code, reason)
	}
	done := make(chan struct{})
	go func() { h.track.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.Abort()
		}
		<-done
		return ctx.Err()
	}
}
