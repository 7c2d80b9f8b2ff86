// Package ws implements the WebSocket protocol (RFC 6455), version 13, as
// a client and a server endpoint with the capabilities of Qt's
// QWebSocket: message and frame reads and writes, ping/pong with round
// trip times, the closing handshake with code and reason, buffered writes
// with an explicit flush, incoming limits, state and event callbacks. It
// knows nothing of proxying or of TLS policy: it takes a net.Conn, a dial
// function or a *tls.Config, so that a proxy (package proxy) and a TLS
// layer (package tlsconf) plug in from outside.
//
// # Two layers
//
// The low layer is the frame codec, for callers that own their buffers:
// [ReadHeader], [PutHeader] and [WriteHeader] decode and encode a frame
// header (RFC 6455 §5.2) without allocating, [Mask] masks or unmasks a
// payload in place from any offset (§5.3), and [ParseClosePayload] and
// [AppendClosePayload] handle the close frame's code and reason (§5.5.1).
// These check only the encoding; the protocol rules are the Conn's.
//
// The high layer is [Conn], an open connection that enforces every rule
// of §5 (masking direction, control frames final and at most 125 bytes,
// fragmentation §5.4, reserved bits only with a negotiated extension
// §5.8, UTF-8 text §8.1, close codes §7.4) and offers:
//
//   - messages: [Conn.ReadMessage] and [Conn.WriteMessage] (whole),
//     [Conn.Reader] and [Conn.Writer] (streamed in bounded memory);
//     outgoing messages are fragmented at Options.OutgoingFrameSize;
//   - frames: [Conn.NextFrame] returns each frame's header (opcode, FIN,
//     reserved bits) with a payload reader, and [Conn.WriteFrame] and
//     [Conn.WriteFrameFrom] send one frame as given: the relay path,
//     which keeps frame boundaries and never buffers a whole frame;
//   - control: [Conn.Ping] and [Conn.Pong] (§5.5.2, §5.5.3; a peer's ping
//     is answered automatically unless Options.DisableAutoPong),
//     [Conn.Close], [Conn.CloseContext] and [Conn.StartClose] (the closing
//     handshake, §7.1.2), [Conn.Abort] (no handshake);
//   - callbacks: [Conn.Run] reads until the end and delivers what arrives
//     to Options.Events, as Qt's signals are.
//
// # Client and server
//
// [Dial] opens a ws:// or wss:// connection (§4.1), optionally through a
// dial function (an HTTP CONNECT or SOCKS5 dialer) and a TLS hook (a PSK
// handshake); the URL and headers are checked for CR, LF and NUL before
// any byte is sent. On the server side (§4.2), [Accept] upgrades a
// request served by net/http. A server that must decide before answering,
// as a proxy opening its upstream does, validates the request with
// [NewUpgrade] (net/http) or [ReadUpgrade] (a raw TCP, TLS or PSK
// connection; the request head is parsed strictly, against request
// smuggling), may watch the client with [Upgrade.WatchPeer], then answers
// with [Upgrade.Accept] (the subprotocol, the extensions and the
// connection's Options it chose) or [Upgrade.Reject]. Refused handshakes
// are answered with an HTTP status and reason and reported as a
// [*HandshakeError].
//
// # Concurrency
//
// Writes are safe from several goroutines at once: a message's frames are
// never interleaved with another's, and control frames may go out between
// the fragments of a long message. Reads take one reader at a time
// (NextFrame, Reader, ReadMessage, Run). Control frames are processed
// while reading: an application must keep reading to see pongs and the
// peer's close. Close, StartClose and Abort may be called from any
// goroutine.
//
// # Contexts, limits and timeouts
//
// Every blocking call takes a context; when it ends the connection is
// closed, since a half-read or half-written frame cannot be resumed.
// [Conn.BindContext] ties a connection to one context for its whole life,
// so that calls passing that context skip the watch each call otherwise
// sets up (a relay binds once and passes it to every read and write).
// [Conn.AdoptContext] does the same without the watch of the bound
// context itself, for a caller that closes the connection whenever it
// ends that context (the proxy's relay, which saves the watch's memory).
// Besides contexts, every wait has a bound (Options, AcceptOptions and
// DialOptions; zero means the default, negative means none where noted):
//
//   - HandshakeTimeout bounds the opening handshake (on the server,
//     reading the request and writing the 101 answer) and MaxHeaderBytes
//     the size of its request or response head;
//   - MaxIncomingFrameSize and MaxIncomingMessageSize bound what the peer
//     may send: more fails the connection with 1009 (§10.4);
//   - FrameTimeout bounds a frame the peer has started: a peer that stops
//     mid-frame fails the connection with 1008 and [ErrStalled]; waiting
//     for a frame to begin is not bounded (an idle connection is not a
//     stalled one);
//   - WriteTimeout bounds each write to the connection: a peer that stops
//     reading makes it fail with [ErrWriteTimeout] and the connection is
//     closed (1006);
//   - CloseTimeout bounds the closing handshake; [Conn.CloseContext]
//     bounds it by a context as well.
//
// Options.ManualCloseReply hands the answer to the peer's close frame, and
// to the peer's protocol errors (failing the connection, §7.1.7), to the
// application: reads report them, the connection stays writable, and the
// application's Close or StartClose sends the close frame. A relay uses it
// to carry a close end to end after delivering what the other leg still
// sends.
//
// # Idle connections
//
// An idle connection holds no read or write buffer: the read side waits
// for the socket to become readable before it takes a pooled buffer, and
// the write side gives its buffer back once flushed. A server with many
// mostly idle connections can also free their goroutines:
// [Conn.NextFrameWithin] gives up with [ErrIdle] after a quiet spell, and
// [Conn.ParkRead] hands the wait to a [Poller] (one epoll set and one
// goroutine for all parked connections, Linux only), which runs a resume
// function on a new goroutine when the socket has bytes to read or the
// connection is closed.
//
// # Events and state
//
// A connection moves through [StateConnecting], [StateOpen],
// [StateClosing] and [StateClosed] ([Conn.State], [Conn.IsValid]);
// Options.Events receives Qt's signals (connected, disconnected, state
// changed, frames and messages received, ping, pong with its round trip
// time, about to close, read channel finished, bytes written, error).
// Callbacks run on the goroutine that caused the event and must not block.
//
// # Errors
//
// Check errors with errors.Is and errors.As. A close handshake ends reads
// with a [*CloseError] carrying the peer's code and reason
// ([Conn.CloseStatus] keeps them); a connection lost without one reports
// 1006. A peer that breaks the protocol or a limit yields a
// [*ProtocolError] with the close code sent (1002, 1007, 1008 or 1009),
// wrapping [ErrMessageTooBig], [ErrInvalidUTF8] or [ErrStalled] where they
// apply. Calls on a closed or closing connection return [ErrClosed], which
// wraps net.ErrClosed. Handshake failures wrap [ErrBadHandshake].
package ws
