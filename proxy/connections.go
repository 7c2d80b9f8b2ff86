package proxy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/wssproxy/wssproxy/ws"
)

// ErrNoConnection is returned by Server.CloseConnection for an id that is
// not being relayed (unknown, or closed already).
var ErrNoConnection = errors.New("proxy: no such connection")

// ConnectionInfo is a snapshot of one relayed connection.
type ConnectionInfo struct {
	// ID numbers the connection as the log lines do (field "conn").
	ID uint64
	// Route is the name of the route serving it.
	Route string
	// Peer is the client's address (from the PROXY header when trusted).
	Peer string
	// Legs is the scheme of each leg, client first: "wss->ws".
	Legs string
	// Upstream is the upstream URL, without credentials.
	Upstream string
	// Subprotocol is the subprotocol the upstream chose, or "".
	Subprotocol string
	// State is the client leg's state: open, closing or closed.
	State string
	// Started is when the relay started (both handshakes done).
	Started time.Time
	// BytesUp and MessagesUp are what the client sent to the upstream;
	// BytesDown and MessagesDown what the upstream sent to the client.
	// Bytes count payload bytes of relayed frames.
	BytesUp, BytesDown       int64
	MessagesUp, MessagesDown int64
	// ClientRTT and UpstreamRTT are the last round trips of the proxy's
	// keepalive pings on each leg; 0 before the first pong (or without
	// Route.PingInterval).
	ClientRTT, UpstreamRTT time.Duration
}

// connInfo is what a pair knows about itself beyond its legs.
type connInfo struct {
	id          uint64
	route       string
	peer        string
	legs        string
	upstream    string
	subprotocol string
	started     time.Time
}

func (p *pair) snapshot() ConnectionInfo {
	return ConnectionInfo{
		ID: p.info.id, Route: p.info.route, Peer: p.info.peer, Legs: p.info.legs,
		Upstream: p.info.upstream, Subprotocol: p.info.subprotocol, Started: p.info.started,
		State:        p.client.conn.State().String(),
		BytesUp:      p.client.stats.bytes.Load(),
		BytesDown:    p.upstream.stats.bytes.Load(),
		MessagesUp:   p.client.stats.messages.Load(),
		MessagesDown: p.upstream.stats.messages.Load(),
		ClientRTT:    time.Duration(p.client.rtt.Load()),
		UpstreamRTT:  time.Duration(p.upstream.rtt.Load()),
	}
}

// Connections returns a snapshot of the connections being relayed, by
// id. Connections still in their handshakes are not listed.
func (s *Server) Connections() []ConnectionInfo {
	s.mu.Lock()
	out := make([]ConnectionInfo, 0, len(s.pairs))
	for p := range s.pairs {
		out = append(out, p.snapshot())
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b ConnectionInfo) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// Connection returns the snapshot of the connection id, if it is being
// relayed.
func (s *Server) Connection(id uint64) (ConnectionInfo, bool) {
	if p := s.pair(id); p != nil {
		return p.snapshot(), true
	}
	return ConnectionInfo{}, false
}

func (s *Server) pair(id uint64) *pair {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range s.pairs {
		if p.info.id == id {
			return p
		}
	}
	return nil
}

// CloseConnection starts the closing handshake of connection id on both
// legs with code and reason, as Shutdown does for every connection, and
// returns once both close frames are sent; the relay ends when both legs
// have answered or their close timeouts passed. Sending may wait behind a
// frame being written on a leg (bounded by the leg's write and close
// timeouts); if ctx ends first, both legs are closed at once (1006) and
// ctx's error is returned.
// code must be valid on the wire (1000-1003, 1007-1014, 3000-4999) and
// reason at most 123 bytes. It returns ErrNoConnection for an id not
// being relayed.
func (s *Server) CloseConnection(ctx context.Context, id uint64, code ws.StatusCode, reason string) error {
	if !code.ValidOnWire() {
		return fmt.Errorf("proxy: close code %d cannot be sent", code)
	}
	if len(reason) > ws.MaxCloseReason {
		return fmt.Errorf("proxy: close reason is %d bytes, more than %d", len(reason), ws.MaxCloseReason)
	}
	p := s.pair(id)
	if p == nil {
		return fmt.Errorf("%w: %d", ErrNoConnection, id)
	}
	stop := context.AfterFunc(ctx, func() {
		p.client.conn.Abort()
		p.upstream.conn.Abort()
	})
	p.shutdown(code, reason)
	if !stop() {
		return fmt.Errorf("proxy: closing connection %d: %w", id, context.Cause(ctx))
	}
	return nil
}

// Ready reports whether the Server is serving at least one listener and
// not shutting down: a readiness probe's answer.
func (s *Server) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closing && s.serving > 0
}

// Metrics returns the handles the Server counts into: Options.Metrics, or
// the set it made when that was nil.
func (s *Server) Metrics() *Metrics { return s.opts.Metrics }
