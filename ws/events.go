package ws

import "time"

// State is the state of a connection (Qt's QAbstractSocket states as
// QWebSocket uses them).
type State int32

// Connection states, in the order a connection passes through them.
const (
	StateConnecting State = iota // opening handshake in progress
	StateOpen                    // data may flow both ways
	StateClosing                 // a close frame was sent or received
	StateClosed                  // the TCP connection is closed
)

// String returns the state's name.
func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateOpen:
		return "open"
	case StateClosing:
		return "closing"
	case StateClosed:
		return "closed"
	}
	return "invalid"
}

// Events are callbacks for QWebSocket's signals. Every field is optional.
// Callbacks run synchronously on the goroutine that caused the event (the
// reader for received data and control frames, the writer for
// OnBytesWritten, the closer for state changes) and must not block or call
// back into blocking Conn methods on the same goroutine.
//
// The frame and message callbacks fire only from Conn.Run, which reads the
// payload in full for them (bounded by the incoming limits); the streaming
// readers (Reader, NextFrame) hand payloads to the caller instead.
type Events struct {
	OnConnected    func()
	OnDisconnected func()
	OnStateChanged func(State)
	// OnTextFrame and OnBinaryFrame receive each data frame's payload
	// (continuation frames with their message's type); last reports FIN.
	// The slice is only valid during the call.
	OnTextFrame   func(frame []byte, last bool)
	OnBinaryFrame func(frame []byte, last bool)
	// OnTextMessage and OnBinaryMessage receive whole messages.
	OnTextMessage   func(msg string)
	OnBinaryMessage func(msg []byte)
	// OnPing receives the payload of each ping from the peer (answered
	// automatically unless Options.DisableAutoPong).
	OnPing func(payload []byte)
	// OnPong receives each pong with the time since the last Ping sent.
	OnPong func(elapsed time.Duration, payload []byte)
	// OnAboutToClose fires once before the closing handshake starts.
	OnAboutToClose func()
	// OnReadChannelFinished fires once when the read side ends (close
	// frame received or the connection lost).
	OnReadChannelFinished func()
	// OnBytesWritten receives the number of bytes each write put on the
	// underlying connection, framing included.
	OnBytesWritten func(n int)
	// OnError receives the error that ended or broke the connection.
	OnError func(err error)
}
