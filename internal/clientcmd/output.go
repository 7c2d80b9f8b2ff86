package clientcmd

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wssproxy/wssproxy/ws"
)

// clientOutput writes what the client receives in the chosen mode. Its
// methods may be called from several goroutines (the reader, the pinger).
type clientOutput struct {
	mode   clientMode
	mu     sync.Mutex
	out    *bufio.Writer
	stderr io.Writer
	err    error // first write error on out
}

func newClientOutput(mode clientMode, stdout, stderr io.Writer) *clientOutput {
	return &clientOutput{mode: mode, out: bufio.NewWriter(stdout), stderr: stderr}
}

// jsonEvent is one line of --jsonl output (and input, see parseJSONLine).
type jsonEvent struct {
	Type     string   `json:"type"`
	Data     *string  `json:"data,omitempty"`
	Encoding string   `json:"encoding,omitempty"`
	Fin      *bool    `json:"fin,omitempty"`
	Code     *int     `json:"code,omitempty"`
	Reason   *string  `json:"reason,omitempty"`
	RTTms    *float64 `json:"rtt_ms,omitempty"`
}

func typeName(op ws.OpCode) string {
	if op == ws.OpBinary {
		return "binary"
	}
	return "text"
}

// emit writes one JSON line and flushes. The caller holds mu.
func (o *clientOutput) emit(ev jsonEvent) {
	b, err := json.Marshal(ev)
	if err != nil { // cannot happen with these field types
		o.err = err
		return
	}
	b = append(b, '\n')
	o.write(b)
}

// write writes p to the output and flushes. The caller holds mu.
func (o *clientOutput) write(p ...[]byte) {
	if o.err != nil {
		return
	}
	for _, b := range p {
		if _, err := o.out.Write(b); err != nil {
			o.err = err
			return
		}
	}
	o.err = o.out.Flush()
}

// message reports a whole data message.
func (o *clientOutput) message(op ws.OpCode, data []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch o.mode {
	case modeJSONL:
		s := encodeData(op, data)
		o.emit(jsonEvent{Type: typeName(op), Data: &s})
	case modeBinary:
		o.write(data)
	default:
		o.write(data, []byte{'\n'})
	}
}

// frame reports one data frame (--raw); op is its message's type.
func (o *clientOutput) frame(op ws.OpCode, data []byte, fin bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch o.mode {
	case modeJSONL:
		ev := jsonEvent{Type: typeName(op), Fin: &fin}
		s := encodeData(op, data)
		if op == ws.OpText && !utf8.Valid(data) {
			// A character split between two frames: the frame alone is
			// not text, so it is given in base64.
			s, ev.Encoding = base64.StdEncoding.EncodeToString(data), "base64"
		}
		ev.Data = &s
		o.emit(ev)
	case modeBinary:
		o.write(data)
	default:
		if fin {
			o.write(data, []byte{'\n'})
		} else {
			o.write(data)
		}
	}
}

// encodeData gives a message's data for JSON: text as is, binary in
// base64.
func encodeData(op ws.OpCode, data []byte) string {
	if op == ws.OpBinary {
		return base64.StdEncoding.EncodeToString(data)
	}
	return string(data)
}

// ping reports a ping from the server (answered by the codec).
func (o *clientOutput) ping(payload []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.mode == modeJSONL {
		s := string(payload)
		if !utf8.Valid(payload) {
			s = base64.StdEncoding.EncodeToString(payload)
			o.emit(jsonEvent{Type: "ping", Data: &s, Encoding: "base64"})
			return
		}
		o.emit(jsonEvent{Type: "ping", Data: &s})
		return
	}
	fmt.Fprintf(o.stderr, "ping from server: %q\n", payload)
}

// pong reports the answer to one of our pings with its round trip time.
func (o *clientOutput) pong(rtt time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ms := float64(rtt.Microseconds()) / 1000
	if o.mode == modeJSONL {
		o.emit(jsonEvent{Type: "pong", RTTms: &ms})
		return
	}
	fmt.Fprintf(o.stderr, "pong: rtt %.3f ms\n", ms)
}

// closed reports the connection's close status, last.
func (o *clientOutput) closed(code ws.StatusCode, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.mode == modeJSONL {
		c := int(code)
		o.emit(jsonEvent{Type: "close", Code: &c, Reason: &reason})
		return
	}
	fmt.Fprintf(o.stderr, "closed: %s %q\n", code, reason)
}

// failed returns the first error writing the output, if any.
func (o *clientOutput) failed() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}
