// Package echo is a WebSocket echo server built on package ws: it sends
// every message back with its type and answers a close with the same code
// and reason. It is wssproxy's built-in upstream and a conformance target.
package echo

import (
	"context"
	"errors"
	"net/http"

	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/ws"
)

// Handler is an http.Handler that upgrades each request and echoes. Its
// zero value is ready to use; it must not be copied after first use.
type Handler struct {
	// Accept configures the handshake and the connections; nil means
	// defaults (messages up to ws.DefaultMaxIncomingMessageSize). Without
	// Accept.Subprotocols the first subprotocol the client offers is
	// selected: an echo speaks every protocol, and clients that offer one
	// (browsers, Node's ws) fail a handshake that selects none.
	Accept *ws.AcceptOptions
	// Logger receives one line per connection; the zero value is silent.
	Logger zerolog.Logger

	track tracker
}

// ServeHTTP upgrades the request and echoes until the connection closes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.track.running.Add(1)
	defer h.track.running.Done()
	var c *ws.Conn
	u, err := ws.NewUpgrade(w, r, h.Accept)
	if err == nil {
		sub := u.SelectSubprotocol()
		if (h.Accept == nil || len(h.Accept.Subprotocols) == 0) && len(u.Subprotocols) > 0 {
			sub = u.Subprotocols[0]
		}
		// Not r.Context(): net/http cancels it when the client
		// half-closes, a race with the 101 (see ws.Accept). The
		// handshake timeout bounds the answer.
		c, err = u.Accept(context.WithoutCancel(r.Context()), sub, "", nil)
	}
	if err != nil {
		h.Logger.Debug().Err(err).Str("remote", r.RemoteAddr).Msg("echo: handshake refused")
		return
	}
	if ok, code, reason := h.track.add(c); !ok {
		// Shutting down: this client is told so, like the open ones
		// (its 101 crossed CloseAll).
		_ = c.CloseContext(r.Context(), code, reason)
		return
	}
	defer h.track.remove(c)
	err = Serve(r.Context(), c)
	code, reason := c.CloseStatus()
	h.Logger.Debug().Str("remote", r.RemoteAddr).Uint16("code", uint16(code)).Str("reason", reason).AnErr("err", err).Msg("echo: connection closed")
}

// Serve echoes messages on c until it closes, and returns nil after a
// clean close handshake (the peer's code and reason are echoed by c), or
// the error that ended the connection. Each message is read whole, so it
// is bounded by the connection's MaxIncomingMessageSize.
func Serve(ctx context.Context, c *ws.Conn) error {
	defer c.Abort()
	for {
		typ, p, err := c.ReadMessage(ctx)
		if err != nil {
			if ce := (*ws.CloseError)(nil); errors.As(err, &ce) && ce.Code != ws.StatusAbnormalClosure {
				return nil
			}
			return err
		}
		if err := c.WriteMessage(ctx, typ, p); err != nil {
			return err
		}
	}
}
