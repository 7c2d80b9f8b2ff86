// Package proxy relays WebSocket connections between a client leg (ws or
// wss, accepted by a Server) and an upstream leg (ws or wss, dialled per
// route with the tlsconf client model), frame by frame.
//
// The upstream handshake completes before the client gets 101: the
// client's subprotocols and extensions are offered upstream and the
// upstream's choice is returned; an upstream that fails or refuses gives
// the client 502 with a reason. Frames keep their opcode, FIN and reserved
// bits, payloads stream in bounded memory, and close codes travel end to
// end (RFC 6455 §7). A leg lost without a close frame closes the other leg
// with 1014 (towards the client) or 1001 (towards the upstream).
//
// A frame moves in pieces of at most 32 KiB, each read whole from one leg
// before it is written to the other as a frame of its own (RFC 6455 §5.4
// lets an intermediary refragment unless an extension it does not know is
// negotiated; then frames keep their boundaries and stream). So a leg that
// stalls or fails mid-frame never leaves the other holding half a frame:
// the other leg always gets a close frame. A leg that breaks the protocol
// is treated as its peer would have treated it: the proxy stops reading
// it, closes the other leg, relays what that leg still sends until it
// answers, then closes the failing leg with the code its error deserves.
//
// No wait is unbounded: each relay read and write runs under a context
// bound to both legs; a peer stalled mid-frame (Route.FrameTimeout) or not
// reading (Route.WriteTimeout) is dropped; keepalive pings
// (Route.PingInterval, on a per-connection timer, not a goroutine) wait for
// a busy writer at most the pong timeout.
//
// The upstream of every route comes from configuration only: the proxy
// never dials an address a client names, so it is never an open proxy.
//
// The client's request is parsed strictly by ws.ReadUpgrade (one parser
// for the proxy and the echo server): a malformed head gets 400 with a
// reason, another method than GET 405, another HTTP version than 1.x 505,
// an oversized head 431, and nothing reaches an upstream. Routes match the
// path as sent; a path that is not in canonical form (dot segments, empty
// segments, a backslash, %2F or %5C) is refused with 400 rather than
// cleaned, so that no path matching one route reaches the upstream as
// another route's. A client's X-Forwarded-For, X-Forwarded-Proto,
// X-Forwarded-Host, Forwarded and X-Real-IP are dropped unless it is one
// of Options.TrustedForwarders; the proxy then names the client in its
// own.
//
// For operations, Server.Connections lists the relayed connections with
// their counters and keepalive round trips, Server.CloseConnection closes
// one, and the Server counts into the Metrics given in Options (a
// prometheus.Collector the caller registers on its own registry).
// Package proxy/admin serves all of it, and the paused upstream
// handshakes of a tlsconf.Registry, over HTTP.
package proxy
