package clientcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/wssproxy/wssproxy/ws"
)

// Exit statuses of "wssproxy client"; clientUsage and README list them.
const (
	ExitOK          = 0 // closing handshake with 1000/1005, or the code we sent answered
	ExitFailure     = 1 // no connection, or a local failure (input)
	ExitUsage       = 2 // bad flag, URL, header, pin or file
	ExitTLS         = 3 // TLS handshake failed (verification, pin, PSK)
	ExitRefused     = 4 // the server answered the upgrade without 101
	ExitProtocol    = 5 // RFC 6455 broken by the server, or its close 1002
	ExitAbnormal    = 6 // the connection ended without a close frame (1006)
	ExitClosedOther = 7 // the server closed with another code
)

// dialExit reports a failed ws.Dial and returns the exit status for it;
// timeout is --connect-timeout.
func dialExit(stderr io.Writer, err error, timeout time.Duration) int {
	var te *tlsError
	var he *ws.HandshakeError
	var oe *net.OpError
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		// Whatever step it was (proxy, TCP, TLS, HTTP), the server did
		// not answer in time: no connection.
		fmt.Fprintf(stderr, "wssproxy client: cannot connect: no answer within --connect-timeout %v: %v\n", timeout, err)
		return ExitFailure
	case errors.As(err, &te):
		fmt.Fprintf(stderr, "wssproxy client: TLS failure: %v\n", err)
		return ExitTLS
	case errors.As(err, &oe) && oe.Op == "remote error":
		// crypto/tls reports a TLS alert from the server this way. With
		// TLS 1.3 the server checks the client certificate after the
		// client's handshake is done, so its refusal arrives here, while
		// the client reads the HTTP answer.
		fmt.Fprintf(stderr, "wssproxy client: TLS failure: the server ended the TLS session: %v (does it want a client certificate? --cert/--key)\n", err)
		return ExitTLS
	case errors.As(err, &he):
		fmt.Fprintf(stderr, "wssproxy client: handshake refused: HTTP %d %s\n", he.Status, he.Reason)
		return ExitRefused
	case errors.Is(err, ws.ErrBadHandshake):
		fmt.Fprintf(stderr, "wssproxy client: handshake failed: %v\n", err)
		return ExitRefused
	}
	fmt.Fprintf(stderr, "wssproxy client: cannot connect: %v\n", err)
	return ExitFailure
}

// endExit returns the exit status for the error that ended the read side
// of an open connection; sent is the close code the client sent first, if
// it closed first (0 otherwise).
func endExit(err error, sent ws.StatusCode) int {
	var pe *ws.ProtocolError
	var ce *ws.CloseError
	switch {
	case errors.As(err, &pe):
		return ExitProtocol
	case errors.As(err, &ce):
		switch {
		case ce.Code == ws.StatusNormalClosure, ce.Code == ws.StatusNoStatusReceived:
			return ExitOK
		case sent != 0 && ce.Code == sent:
			return ExitOK
		case ce.Code == ws.StatusAbnormalClosure:
			return ExitAbnormal
		case ce.Code == ws.StatusProtocolError:
			return ExitProtocol
		}
		return ExitClosedOther
	}
	// Closed locally without an answer (the close timed out) or an I/O
	// error the codec did not classify: no closing handshake took place.
	return ExitAbnormal
}
