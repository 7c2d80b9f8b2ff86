package ws

import (
	"time"

	"github.com/rs/zerolog"
)

// Defaults of Options, matching Qt's QWebSocket where Qt has one.
const (
	// DefaultOutgoingFrameSize is the size at which outgoing messages are
	// fragmented (Qt's default, 512 KiB).
	DefaultOutgoingFrameSize = 512 << 10
	// DefaultMaxIncomingFrameSize and DefaultMaxIncomingMessageSize bound
	// what a peer may send. ReadMessage and the message events buffer a
	// whole message, so the default is modest; streaming readers (Reader,
	// NextFrame) use bounded memory whatever the limit.
	DefaultMaxIncomingFrameSize   = 32 << 20
	DefaultMaxIncomingMessageSize = 32 << 20
	// DefaultReadBufferSize and DefaultWriteBufferSize size the bufio
	// buffers of a connection.
	DefaultReadBufferSize  = 32 << 10
	DefaultWriteBufferSize = 32 << 10
	// DefaultCloseTimeout bounds the wait for the peer's close frame and
	// for the TCP close that follows it.
	DefaultCloseTimeout = 5 * time.Second
	// DefaultFrameTimeout bounds the wait for the rest of a frame the
	// peer has started: a peer that stops mid-frame is stalled.
	DefaultFrameTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds each write to the connection: a peer
	// that stops reading is dropped, never waited for.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultHandshakeTimeout bounds the opening handshake.
	DefaultHandshakeTimeout = 30 * time.Second
	// DefaultMaxHeaderBytes bounds the opening handshake's request or
	// response head (within the 8-32 KiB nginx and HAProxy use).
	DefaultMaxHeaderBytes = 16 << 10
)

// Options configure a connection; the zero value is usable and a nil
// *Options means all defaults. Accept and Dial copy the options, so the
// caller may reuse or change them afterwards.
type Options struct {
	// OutgoingFrameSize fragments outgoing messages into frames of at
	// most this many payload bytes (Qt setOutgoingFrameSize). 0 means
	// DefaultOutgoingFrameSize.
	OutgoingFrameSize int
	// MaxIncomingFrameSize and MaxIncomingMessageSize are the largest
	// frame payload and message the peer may send (Qt
	// setMaxAllowedIncomingFrameSize/MessageSize); exceeding either closes
	// the connection with 1009. 0 means the default, negative no limit.
	MaxIncomingFrameSize   int64
	MaxIncomingMessageSize int64
	// ReadBufferSize and WriteBufferSize size the connection's buffers
	// (Qt setReadBufferSize). 0 means the defaults.
	ReadBufferSize  int
	WriteBufferSize int
	// CloseTimeout bounds the closing handshake. 0 means DefaultCloseTimeout.
	CloseTimeout time.Duration
	// FrameTimeout bounds how long a frame the peer has started (its
	// header or payload partly read) may go without a byte arriving, while
	// the application is reading it: a peer that stops mid-frame fails
	// the connection with 1008 and ErrStalled. Waiting for a frame to
	// begin is not bounded by it (an idle connection is not a stalled
	// one). 0 means DefaultFrameTimeout, negative no limit.
	FrameTimeout time.Duration
	// WriteTimeout bounds each write to the underlying connection (a
	// flush of at most WriteBufferSize bytes, or one large payload
	// chunk): a peer that stops reading makes it fail, and the
	// connection is closed (1006). Waiting for another writer to finish
	// is bounded by the caller's context. 0 means DefaultWriteTimeout,
	// negative no limit.
	WriteTimeout time.Duration
	// DeferFlush keeps written frames in the write buffer until Flush is
	// called or the buffer fills (Qt's buffered writes with flush()).
	// Control frames are always flushed at once.
	DeferFlush bool
	// DisableAutoPong stops the automatic pong answer to a peer's ping;
	// the ping is still reported by Events.OnPing and NextFrame. A relay
	// sets it to forward pings end to end.
	DisableAutoPong bool
	// ManualCloseReply stops the automatic answer to the peer's close
	// frame: reads return the peer's *CloseError, the connection stays in
	// StateClosing (data may still be sent) until the application answers
	// with Close. A relay sets it so that the close travels end to end and
	// what the other leg still sends is delivered first. The application
	// must call Close after receiving the peer's close.
	//
	// ManualCloseReply also holds the answer to a protocol error of the
	// peer (RFC 6455 §7.1.7): reads return the *ProtocolError and nothing
	// more is read, but no close frame is sent and the connection stays
	// open for writing until the application calls Close or StartClose,
	// which then send the close frame (the application passes the error's
	// Code) and close the connection at once, without waiting for an
	// answer. A relay uses it to close the other leg first and deliver
	// what that leg still sends, as the peer would have seen it directly.
	ManualCloseReply bool
	// DiscardHandshake drops the opening handshake's request and response
	// once the connection is open: Request and Response return nil. A
	// relay that has read what it needs from them before the connection
	// opened saves their memory (headers, URL: about a kilobyte a leg).
	DiscardHandshake bool
	// MaskGenerator supplies client masking keys (Qt setMaskGenerator).
	// nil means keys from crypto/rand.
	MaskGenerator MaskGenerator
	// Events receives the connection's signals. Callbacks run on the
	// goroutine that causes the event and must not block.
	Events Events
	// Logger receives debug logs of the connection's life; the zero value
	// logs nothing.
	Logger zerolog.Logger
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.OutgoingFrameSize <= 0 {
		c.OutgoingFrameSize = DefaultOutgoingFrameSize
	}
	if c.MaxIncomingFrameSize == 0 {
		c.MaxIncomingFrameSize = DefaultMaxIncomingFrameSize
	}
	if c.MaxIncomingMessageSize == 0 {
		c.MaxIncomingMessageSize = DefaultMaxIncomingMessageSize
	}
	if c.ReadBufferSize <= 0 {
		c.ReadBufferSize = DefaultReadBufferSize
	}
	if c.WriteBufferSize <= 0 {
		c.WriteBufferSize = DefaultWriteBufferSize
	}
	if c.CloseTimeout <= 0 {
		c.CloseTimeout = DefaultCloseTimeout
	}
	if c.FrameTimeout == 0 {
		c.FrameTimeout = DefaultFrameTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	return c
}
