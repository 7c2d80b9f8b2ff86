package ws

import (
	"context"
	"io"
)

// Run reads the connection until it closes, delivering what arrives to the
// callbacks of Options.Events, as Qt's signals are delivered by its event
// loop: OnTextFrame/OnBinaryFrame with each frame's payload, and
// OnTextMessage/OnBinaryMessage with each whole message (both bounded by
// the incoming limits; a message is only assembled when a message callback
// is set). Control frames fire OnPing/OnPong as usual. Run returns the
// error that ended the connection: a *CloseError after a close handshake.
func (c *Conn) Run(ctx context.Context) error {
	ev := &c.opts.Events
	wantFrames := ev.OnTextFrame != nil || ev.OnBinaryFrame != nil
	wantMessages := ev.OnTextMessage != nil || ev.OnBinaryMessage != nil
	var frame, msg []byte
	var msgType OpCode
	for {
		h, r, err := c.NextFrame(ctx)
		if err != nil {
			return err
		}
		if h.OpCode.IsControl() {
			continue
		}
		if h.OpCode != OpContinuation {
			msgType, msg = h.OpCode, msg[:0]
		}
		if !wantFrames && !wantMessages {
			if _, err := io.Copy(io.Discard, r); err != nil {
				return err
			}
			continue
		}
		frame = frame[:0]
		if n := int(h.Length); cap(frame) < n {
			frame = make([]byte, 0, n)
		}
		frame = frame[:h.Length]
		if _, err := io.ReadFull(r, frame); err != nil {
			return err
		}
		switch {
		case msgType == OpText && ev.OnTextFrame != nil:
			ev.OnTextFrame(frame, h.Fin)
		case msgType == OpBinary && ev.OnBinaryFrame != nil:
			ev.OnBinaryFrame(frame, h.Fin)
		}
		if !wantMessages {
			continue
		}
		msg = append(msg, frame...)
		if !h.Fin {
			continue
		}
		switch {
		case msgType == OpText && ev.OnTextMessage != nil:
			ev.OnTextMessage(string(msg))
		case msgType == OpBinary && ev.OnBinaryMessage != nil:
			ev.OnBinaryMessage(msg)
		}
		if cap(msg) > DefaultReadBufferSize {
			msg = nil // do not pin a large message's memory
		}
	}
}
