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
// The upstream of every route comes from configuration only: the proxy
// never dials an address a client names, so it is never an open proxy.
//
// For operations, Server.Connections lists the relayed connections with
// their counters and keepalive round trips, Server.CloseConnection closes
// one, and the Server counts into the Metrics handles given in Options
// (written in the Prometheus text format by Metrics.WritePrometheus).
// Package proxy/admin serves all of it, and the paused upstream
// handshakes of a tlsconf.Registry, over HTTP.
package proxy
