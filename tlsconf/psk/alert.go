package psk

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// Alert is a TLS alert description (RFC 8446 §6).
type Alert uint8

// Alert descriptions this package sends or names (RFC 8446 §6, RFC 4279
// §4 for unknown_psk_identity, RFC 7301 for no_application_protocol).
const (
	AlertCloseNotify           Alert = 0
	AlertUnexpectedMessage     Alert = 10
	AlertBadRecordMAC          Alert = 20
	AlertRecordOverflow        Alert = 22
	AlertHandshakeFailure      Alert = 40
	AlertIllegalParameter      Alert = 47
	AlertDecodeError           Alert = 50
	AlertDecryptError          Alert = 51
	AlertProtocolVersion       Alert = 70
	AlertInternalError         Alert = 80
	AlertUserCanceled          Alert = 90
	AlertNoRenegotiation       Alert = 100 // TLS 1.2, a warning (RFC 5246 §7.2.2)
	AlertMissingExtension      Alert = 109
	AlertUnsupportedExtension  Alert = 110
	AlertUnknownPSKIdentity    Alert = 115
	AlertNoApplicationProtocol Alert = 120
)

var alertNames = map[Alert]string{
	AlertCloseNotify:           "close_notify",
	AlertUnexpectedMessage:     "unexpected_message",
	AlertBadRecordMAC:          "bad_record_mac",
	AlertRecordOverflow:        "record_overflow",
	AlertHandshakeFailure:      "handshake_failure",
	AlertIllegalParameter:      "illegal_parameter",
	AlertDecodeError:           "decode_error",
	AlertDecryptError:          "decrypt_error",
	AlertProtocolVersion:       "protocol_version",
	AlertInternalError:         "internal_error",
	AlertUserCanceled:          "user_canceled",
	AlertNoRenegotiation:       "no_renegotiation",
	AlertMissingExtension:      "missing_extension",
	AlertUnsupportedExtension:  "unsupported_extension",
	AlertUnknownPSKIdentity:    "unknown_psk_identity",
	AlertNoApplicationProtocol: "no_application_protocol",
	42:                         "bad_certificate",
	48:                         "unknown_ca",
	49:                         "access_denied",
	116:                        "certificate_required",
}

// String returns the RFC name of the alert, e.g. "illegal_parameter".
func (a Alert) String() string {
	if s, ok := alertNames[a]; ok {
		return s
	}
	return "alert(" + strconv.Itoa(int(a)) + ")"
}

// AlertError is a failed connection that an alert ended. Remote tells
// whether the peer sent the alert (it failed) or this side sent it (the
// peer misbehaved, Err says how). Check with errors.As.
type AlertError struct {
	Alert  Alert
	Remote bool
	Err    error // the local cause; nil for a received alert
}

// Error describes the alert and who sent it.
func (e *AlertError) Error() string {
	if e.Remote {
		return "psk: remote error: " + e.Alert.String() + " (" + strconv.Itoa(int(e.Alert)) + ")"
	}
	s := "psk: sent alert " + e.Alert.String() + " (" + strconv.Itoa(int(e.Alert)) + ")"
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the local cause.
func (e *AlertError) Unwrap() error { return e.Err }

// ErrClosed is returned by a second Close and by a handshake on a closed
// connection. It wraps net.ErrClosed.
var ErrClosed = fmt.Errorf("psk: %w", net.ErrClosed)

// localAlert builds the error for an alert this side sends.
func localAlert(a Alert, format string) *AlertError {
	return &AlertError{Alert: a, Err: errors.New(format)}
}

func wrapAlert(a Alert, err error) *AlertError {
	return &AlertError{Alert: a, Err: err}
}
