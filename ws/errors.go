package ws

import (
	"errors"
	"fmt"
	"net"
)

// Sentinel errors. Check them with errors.Is.
var (
	// ErrClosed is returned by operations on a connection that is closed
	// or closing where the operation is no longer allowed. It wraps
	// net.ErrClosed, so code written for net.Conn recognises it.
	ErrClosed = fmt.Errorf("ws: connection closed: %w", net.ErrClosed)
	// ErrMessageTooBig is wrapped by the *ProtocolError returned when a
	// frame or message exceeds the configured incoming limit (1009).
	ErrMessageTooBig = errors.New("ws: message too big")
	// ErrInvalidUTF8 is wrapped by the *ProtocolError returned when text
	// is not valid UTF-8 (1007).
	ErrInvalidUTF8 = errors.New("ws: invalid UTF-8 in text")
	// ErrStalled is wrapped by the *ProtocolError (1008) returned when the
	// peer stops sending in the middle of a frame for longer than
	// Options.FrameTimeout.
	ErrStalled = errors.New("ws: peer stalled mid-frame")
	// ErrWriteTimeout is wrapped by the error of a write that did not
	// complete within Options.WriteTimeout (the peer stopped reading).
	ErrWriteTimeout = errors.New("ws: write timed out: peer not reading")
	// ErrBadHandshake is wrapped by every opening-handshake failure.
	ErrBadHandshake = errors.New("ws: bad handshake")
)

// ProtocolError is a violation of RFC 6455 by the peer (or a configured
// limit it exceeded). Code is the close code sent to the peer: 1002, 1007
// or 1009.
type ProtocolError struct {
	Code StatusCode
	Msg  string
	Err  error // optional cause: ErrMessageTooBig, ErrInvalidUTF8, …
}

// Error describes the violation and the close code it caused.
func (e *ProtocolError) Error() string {
	return fmt.Sprintf("ws: %s (close %d)", e.Msg, e.Code)
}

// Unwrap returns the cause, if any.
func (e *ProtocolError) Unwrap() error { return e.Err }

func protocolErrorf(code StatusCode, format string, args ...any) *ProtocolError {
	return &ProtocolError{Code: code, Msg: fmt.Sprintf(format, args...)}
}
