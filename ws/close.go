package ws

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"sync/atomic"
	"unicode/utf8"
)

// StatusCode is a WebSocket close status code (RFC 6455 §7.4, IANA
// "WebSocket Close Code Number Registry").
type StatusCode uint16

// Registered close codes. 1005, 1006 and 1015 are reported locally and are
// never sent on the wire. The names follow RFC 6455; Qt's names are noted
// where they differ.
const (
	StatusNormalClosure           StatusCode = 1000 // Qt CloseCodeNormal
	StatusGoingAway               StatusCode = 1001
	StatusProtocolError           StatusCode = 1002
	StatusUnsupportedData         StatusCode = 1003 // Qt CloseCodeDatatypeNotSupported
	StatusReserved1004            StatusCode = 1004
	StatusNoStatusReceived        StatusCode = 1005 // Qt CloseCodeMissingStatusCode
	StatusAbnormalClosure         StatusCode = 1006
	StatusInvalidFramePayloadData StatusCode = 1007 // Qt CloseCodeWrongDatatype
	StatusPolicyViolation         StatusCode = 1008
	StatusMessageTooBig           StatusCode = 1009 // Qt CloseCodeTooMuchData
	StatusMandatoryExtension      StatusCode = 1010 // Qt CloseCodeMissingExtension
	StatusInternalError           StatusCode = 1011 // Qt CloseCodeBadOperation
	StatusServiceRestart          StatusCode = 1012
	StatusTryAgainLater           StatusCode = 1013
	StatusBadGateway              StatusCode = 1014
	StatusTLSHandshake            StatusCode = 1015
)

// MaxCloseReason is the longest close reason in bytes: a control frame
// carries at most 125 bytes, 2 of which hold the code (RFC 6455 §5.5.1).
const MaxCloseReason = MaxControlPayload - 2

var statusNames = map[StatusCode]string{
	StatusNormalClosure:           "normal closure",
	StatusGoingAway:               "going away",
	StatusProtocolError:           "protocol error",
	StatusUnsupportedData:         "unsupported data",
	StatusReserved1004:            "reserved",
	StatusNoStatusReceived:        "no status received",
	StatusAbnormalClosure:         "abnormal closure",
	StatusInvalidFramePayloadData: "invalid frame payload data",
	StatusPolicyViolation:         "policy violation",
	StatusMessageTooBig:           "message too big",
	StatusMandatoryExtension:      "mandatory extension",
	StatusInternalError:           "internal error",
	StatusServiceRestart:          "service restart",
	StatusTryAgainLater:           "try again later",
	StatusBadGateway:              "bad gateway",
	StatusTLSHandshake:            "TLS handshake failure",
}

// String returns the code and its registered name, e.g. "1000 (normal closure)".
func (c StatusCode) String() string {
	if n, ok := statusNames[c]; ok {
		return strconv.Itoa(int(c)) + " (" + n + ")"
	}
	return strconv.Itoa(int(c))
}

// ValidOnWire reports whether c may appear in a close frame (RFC 6455
// §7.4): 1000-1003, 1007-1014 and 3000-4999. Receiving any other code fails
// the connection with 1002.
func (c StatusCode) ValidOnWire() bool {
	switch {
	case c >= 1000 && c <= 1003:
		return true
	case c >= 1007 && c <= 1014:
		return true
	case c >= 3000 && c <= 4999:
		return true
	}
	return false
}

// CloseError reports the close status a connection ended with: the code
// and reason of the peer's close frame, the code this side closed with, or
// 1006 when the connection ended without a close handshake.
type CloseError struct {
	Code   StatusCode
	Reason string
}

// Error describes the close status.
func (e *CloseError) Error() string {
	if e.Reason == "" {
		return "ws: closed with " + e.Code.String()
	}
	return fmt.Sprintf("ws: closed with %s: %q", e.Code, e.Reason)
}

// ParseClosePayload decodes a close frame's payload (RFC 6455 §5.5.1). An
// empty payload yields StatusNoStatusReceived. A 1-byte payload or a code
// that is not valid on the wire is a *ProtocolError with code 1002; a
// reason that is not UTF-8 is one with code 1007.
func ParseClosePayload(p []byte) (StatusCode, string, error) {
	switch len(p) {
	case 0:
		return StatusNoStatusReceived, "", nil
	case 1:
		return 0, "", protocolErrorf(StatusProtocolError, "close payload of 1 byte")
	}
	code := StatusCode(binary.BigEndian.Uint16(p))
	if !code.ValidOnWire() {
		return 0, "", protocolErrorf(StatusProtocolError, "invalid close code %d", code)
	}
	reason := p[2:]
	if len(reason) > MaxCloseReason {
		return 0, "", protocolErrorf(StatusProtocolError, "close payload of %d bytes exceeds %d", len(p), MaxControlPayload)
	}
	if !utf8.Valid(reason) {
		return 0, "", protocolErrorf(StatusInvalidFramePayloadData, "close reason is not valid UTF-8")
	}
	return code, string(reason), nil
}

// AppendClosePayload appends the close payload for code and reason to dst.
// StatusNoStatusReceived yields an empty payload (a close without status);
// any other code must be ValidOnWire. The reason must be UTF-8 and is
// truncated to MaxCloseReason bytes on a character boundary, as Qt does.
func AppendClosePayload(dst []byte, code StatusCode, reason string) ([]byte, error) {
	if code == StatusNoStatusReceived {
		if reason != "" {
			return dst, fmt.Errorf("ws: a close without status code cannot carry a reason")
		}
		return dst, nil
	}
	if !code.ValidOnWire() {
		return dst, fmt.Errorf("ws: close code %d may not be sent", code)
	}
	if !utf8.ValidString(reason) {
		return dst, fmt.Errorf("ws: close reason is not valid UTF-8")
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, TruncateUTF8(reason, MaxCloseReason)...), nil
}

// TruncateUTF8 returns the longest prefix of s of at most max bytes that
// does not split a UTF-8 character.
func TruncateUTF8(s string, max int) string {
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// CloseContext is Close bounded by ctx as well as by
// Options.CloseTimeout: it performs the closing handshake (RFC 6455
// §7.1.2) and returns when the connection is closed. If ctx ends first,
// the connection is closed at once, as by Abort: the close status becomes
// 1006 and the error wraps both ctx's cause (errors.Is(err,
// context.Canceled) or context.DeadlineExceeded) and that *CloseError.
// Otherwise its result is Close's.
func (c *Conn) CloseContext(ctx context.Context, code StatusCode, reason string) error {
	var cancelled atomic.Bool
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() {
			select {
			case <-c.done:
				return
			default:
			}
			cancelled.Store(true)
			c.setStatus(StatusAbnormalClosure, "close cancelled", true)
			c.abort(fmt.Errorf("ws: close: %w", context.Cause(ctx)))
		})
		defer stop()
	}
	err := c.Close(code, reason)
	if err != nil && cancelled.Load() {
		return fmt.Errorf("ws: close: %w (%w)", context.Cause(ctx), c.closeError())
	}
	return err
}
