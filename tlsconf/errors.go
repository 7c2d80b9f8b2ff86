package tlsconf

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. A VerificationError unwraps to one of them when a pause
// ended the handshake.
var (
	// ErrPauseAborted: a paused handshake was aborted (Registry.Abort).
	ErrPauseAborted = errors.New("tlsconf: paused handshake aborted")
	// ErrPauseTimeout: nobody resumed a paused handshake in time.
	ErrPauseTimeout = errors.New("tlsconf: paused handshake timed out")
	// ErrNotPaused: Resume or Abort named no paused handshake (unknown id,
	// or already decided, timed out or cancelled).
	ErrNotPaused = errors.New("tlsconf: no such paused handshake")
)

// VerificationError is the error a handshake fails with when the peer's
// certificates do not pass the policy. Find it with errors.As; it unwraps
// to the crypto/x509 errors behind each problem (x509.HostnameError,
// x509.UnknownAuthorityError, …) and, when a pause ended the handshake,
// to ErrPauseAborted, ErrPauseTimeout or the context's error.
type VerificationError struct {
	// Errors is every problem found, in Verify's order.
	Errors []SSLError
	// Unignored is the part of Errors that the ignore policy (and the
	// resume decision, if any) did not accept: why the handshake failed.
	Unignored []SSLError
	// Cause is set when a pause ended the handshake.
	Cause error
}

// Error lists the problems that failed the handshake, each with its
// certificate (subject, depth, SHA-256) and detail; for pin-mismatch the
// detail says which pins were expected and which were seen.
func (e *VerificationError) Error() string {
	var b strings.Builder
	b.WriteString("tlsconf: certificate verification failed")
	if e.Cause != nil {
		b.WriteString(" (")
		b.WriteString(e.Cause.Error())
		b.WriteString(")")
	}
	list := e.Unignored
	if len(list) == 0 {
		list = e.Errors
	}
	for i, se := range list {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(se.Error())
	}
	if n := len(e.Errors) - len(e.Unignored); n > 0 && len(e.Unignored) > 0 {
		b.WriteString(" (")
		b.WriteString(strconv.Itoa(n))
		b.WriteString(" more ignored by policy)")
	}
	return b.String()
}

// Unwrap returns the pause cause and the crypto/x509 errors of the
// unignored problems.
func (e *VerificationError) Unwrap() []error {
	var out []error
	if e.Cause != nil {
		out = append(out, e.Cause)
	}
	for _, se := range e.Unignored {
		if se.Err != nil {
			out = append(out, se.Err)
		}
	}
	return out
}

// Kinds returns the kinds of the unignored problems, in order.
func (e *VerificationError) Kinds() []ErrorKind {
	out := make([]ErrorKind, len(e.Unignored))
	for i, se := range e.Unignored {
		out[i] = se.Kind
	}
	return out
}
