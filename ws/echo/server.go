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
	closing bool           // CloseAll started: later upgrades are refused
	running sync.WaitGroup // ServeHTTP calls, joined by Server.Shutdown
}

// add tracks c; false once CloseAll has started (the caller aborts c).
func (t *tracker) add(c *ws.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing {
		return false
	}
	if t.conns == nil {
		t.conns = make(map[*ws.Conn]struct{})
	}
	t.conns[c] = struct{}{}
	t.wg.Add(1)
	return true
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
// meant for shutdown: connections upgraded after it started are aborted.
func (h *Handler) CloseAll(ctx context.Context, code ws.StatusCode, reason string) error {
	h.track.mu.Lock()
	h.track.closing = true
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
