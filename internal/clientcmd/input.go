package clientcmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/wssproxy/wssproxy/ws"
)

// inputError is a problem with standard input itself (unreadable, a
// malformed line): the client closes and exits with ExitFailure.
type inputError struct{ err error }

func (e *inputError) Error() string { return "input: " + e.err.Error() }
func (e *inputError) Unwrap() error { return e.err }

func inputErrorf(format string, args ...any) error {
	return &inputError{fmt.Errorf(format, args...)}
}

// clientSender is what the input side needs of the session.
type clientSender interface {
	conn() *ws.Conn
	// close starts the closing handshake once (later calls do nothing).
	close(code ws.StatusCode, reason string)
	// pinged records that a ping of ours is in flight.
	pinged()
}

// sendInput reads stdin in the configured mode and sends it. It returns
// nil at the end of input (the caller then closes), an *inputError for
// bad input (nothing of the bad line is sent), or the connection's error.
// A "close" object in --jsonl mode closes by itself and returns nil.
func sendInput(ctx context.Context, cfg *clientConfig, s clientSender, stdin io.Reader) error {
	switch cfg.mode {
	case modeBinary:
		return sendBinary(ctx, cfg, s.conn(), stdin)
	case modeJSONL:
		return sendJSONL(ctx, cfg, s, stdin)
	}
	return sendLines(ctx, cfg, s.conn(), stdin)
}

// lineScanner returns a scanner whose lines may be as long as the
// largest message (for JSON: its base64 form and some room).
func lineScanner(r io.Reader, maxMessage int64) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	limit := int(min(maxMessage, 1<<30))*4/3 + 4096
	sc.Buffer(make([]byte, 0, min(limit, 64<<10)), limit)
	return sc
}

func scanErr(err error, line int) error {
	if errors.Is(err, bufio.ErrTooLong) {
		return inputErrorf("line %d is longer than the scanner's limit (raise --max-message-size)", line)
	}
	return inputErrorf("reading standard input: %w", err)
}

func sendLines(ctx context.Context, cfg *clientConfig, c *ws.Conn, stdin io.Reader) error {
	sc := lineScanner(stdin, int64(cfg.maxMessage))
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if !utf8.Valid(line) {
			return inputErrorf("line %d is not valid UTF-8, so it cannot be a text message (use --binary or --jsonl)", n)
		}
		if err := c.WriteMessage(ctx, ws.MessageText, line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return scanErr(err, n+1)
	}
	return nil
}

// sendBinary sends all of stdin as one binary message, a frame per read
// (at most --outgoing-frame-size), each flushed at once. An empty input
// sends nothing.
func sendBinary(ctx context.Context, cfg *clientConfig, c *ws.Conn, stdin io.Reader) error {
	buf := make([]byte, min(int(cfg.outgoingFrame), 1<<20))
	var w io.WriteCloser
	for {
		n, rerr := stdin.Read(buf)
		if n > 0 {
			if w == nil {
				var err error
				if w, err = c.Writer(ctx, ws.MessageBinary); err != nil {
					return err
				}
			}
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
			if err := c.Flush(ctx); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if w != nil {
				// The message cannot be finished truthfully: fail the
				// connection rather than send a truncated message as whole.
				c.Abort()
			}
			return inputErrorf("reading standard input: %w", rerr)
		}
	}
	if w == nil {
		return nil
	}
	return w.Close()
}

// jsonInput is one line of --jsonl input.
type jsonInput struct {
	Type   string  `json:"type"`
	Data   *string `json:"data"`
	Code   *int    `json:"code"`
	Reason string  `json:"reason"`
}

// parseJSONLine checks one --jsonl input line and returns the frame to
// send: a data message (op, payload), a ping, or a close (code, reason).
func parseJSONLine(line []byte) (op ws.OpCode, payload []byte, code ws.StatusCode, err error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var in jsonInput
	if err := dec.Decode(&in); err != nil {
		return 0, nil, 0, fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return 0, nil, 0, errors.New("more than one JSON value on the line")
	}
	data := func() ([]byte, error) {
		if in.Data == nil {
			return nil, fmt.Errorf("type %q needs \"data\"", in.Type)
		}
		return []byte(*in.Data), nil
	}
	if in.Type != "close" && (in.Code != nil || in.Reason != "") {
		return 0, nil, 0, fmt.Errorf("\"code\" and \"reason\" belong to type \"close\", not %q", in.Type)
	}
	switch in.Type {
	case "text":
		p, err := data()
		if err != nil {
			return 0, nil, 0, err
		}
		return ws.OpText, p, 0, nil
	case "binary":
		s, err := data()
		if err != nil {
			return 0, nil, 0, err
		}
		p, err := base64.StdEncoding.DecodeString(string(s))
		if err != nil {
			return 0, nil, 0, fmt.Errorf("\"data\" of a binary message must be base64: %w", err)
		}
		return ws.OpBinary, p, 0, nil
	case "ping":
		var p []byte
		if in.Data != nil {
			p = []byte(*in.Data)
		}
		if len(p) > ws.MaxControlPayload {
			return 0, nil, 0, fmt.Errorf("a ping carries at most %d bytes, not %d", ws.MaxControlPayload, len(p))
		}
		return ws.OpPing, p, 0, nil
	case "close":
		if in.Data != nil {
			return 0, nil, 0, errors.New("a close has \"code\" and \"reason\", not \"data\"")
		}
		code := ws.StatusNormalClosure
		if in.Code != nil {
			c := *in.Code
			if c < 0 || c > 0xffff || !ws.StatusCode(c).ValidOnWire() {
				return 0, nil, 0, fmt.Errorf("close code %d may not be sent (1000-1003, 1007-1014, 3000-4999)", c)
			}
			code = ws.StatusCode(c)
		}
		if len(in.Reason) > ws.MaxCloseReason {
			return 0, nil, 0, fmt.Errorf("close reason is %d bytes, at most %d fit", len(in.Reason), ws.MaxCloseReason)
		}
		return ws.OpClose, []byte(in.Reason), code, nil
	case "":
		return 0, nil, 0, errors.New("\"type\" is missing (text, binary, ping or close)")
	}
	return 0, nil, 0, fmt.Errorf("unknown type %q (text, binary, ping or close)", in.Type)
}

func sendJSONL(ctx context.Context, cfg *clientConfig, s clientSender, stdin io.Reader) error {
	c := s.conn()
	sc := lineScanner(stdin, int64(cfg.maxMessage))
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		op, p, code, err := parseJSONLine(line)
		if err != nil {
			return inputErrorf("line %d: %w; nothing of it was sent", n, err)
		}
		switch op {
		case ws.OpClose:
			s.close(code, string(p))
			return nil
		case ws.OpPing:
			s.pinged()
			err = c.Ping(ctx, p)
		default:
			err = c.WriteMessage(ctx, op, p)
		}
		if errors.Is(err, ws.ErrInvalidUTF8) {
			return inputErrorf("line %d: text is not valid UTF-8; nothing of it was sent", n)
		}
		if err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return scanErr(err, n+1)
	}
	return nil
}
