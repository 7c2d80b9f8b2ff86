package ws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"
)

// WriteMessage sends p as one message of type typ, fragmented into frames
// of at most Options.OutgoingFrameSize bytes (Qt sendTextMessage /
// sendBinaryMessage). Text must be valid UTF-8; invalid text is refused
// before anything is sent. The frames are flushed unless
// Options.DeferFlush is set. It returns once the message is written.
func (c *Conn) WriteMessage(ctx context.Context, typ MessageType, p []byte) error {
	if typ != MessageText && typ != MessageBinary {
		return fmt.Errorf("ws: WriteMessage: type must be text or binary, not %s", typ)
	}
	if typ == MessageText && !utf8.Valid(p) {
		return fmt.Errorf("ws: WriteMessage: %w", ErrInvalidUTF8)
	}
	if err := c.acquire(ctx, c.msgSem); err != nil {
		return err
	}
	defer func() { <-c.msgSem }()
	if c.closing() {
		return ErrClosed
	}
	op := typ
	for {
		m := min(len(p), c.opts.OutgoingFrameSize)
		fin := m == len(p)
		if err := c.writeFrame(ctx, Header{Fin: fin, OpCode: op}, p[:m], fin && !c.opts.DeferFlush); err != nil {
			return err
		}
		if fin {
			return nil
		}
		op = OpContinuation
		p = p[m:]
	}
}

// Writer starts a message of type typ and returns a writer for its
// payload: each Write sends its bytes as frames of at most
// Options.OutgoingFrameSize, and Close ends the message with a final
// frame. Other goroutines' messages wait until Close; control frames still
// go out. Text is not checked as UTF-8 on this path: the caller must write
// valid text. ctx governs the whole message: when it ends the connection
// is closed.
func (c *Conn) Writer(ctx context.Context, typ MessageType) (io.WriteCloser, error) {
	if typ != MessageText && typ != MessageBinary {
		return nil, fmt.Errorf("ws: Writer: type must be text or binary, not %s", typ)
	}
	if err := c.acquire(ctx, c.msgSem); err != nil {
		return nil, err
	}
	if c.closing() {
		<-c.msgSem
		return nil, ErrClosed
	}
	w := &c.writer
	w.ctx, w.op, w.open = ctx, typ, true
	w.stop = c.watch(ctx)
	return w, nil
}

// messageWriter is the writer Writer returns; one per connection, reused.
type messageWriter struct {
	c    *Conn
	ctx  context.Context
	op   OpCode
	open bool
	stop func() bool
}

func (w *messageWriter) Write(p []byte) (int, error) {
	if !w.open {
		return 0, errors.New("ws: write on a closed message writer")
	}
	n := 0
	for len(p) > 0 {
		m := min(len(p), w.c.opts.OutgoingFrameSize)
		if err := w.c.writeFrame(w.ctx, Header{OpCode: w.op}, p[:m], false); err != nil {
			return n, err
		}
		w.op = OpContinuation
		n += m
		p = p[m:]
	}
	return n, nil
}

// Close sends the message's final frame and lets other messages go.
func (w *messageWriter) Close() error {
	if !w.open {
		return errors.New("ws: message writer already closed")
	}
	w.open = false
	if w.stop != nil {
		w.stop()
	}
	err := w.c.writeFrame(w.ctx, Header{Fin: true, OpCode: w.op}, nil, !w.c.opts.DeferFlush)
	<-w.c.msgSem
	return err
}

// WriteFrame sends one frame as given: FIN, reserved bits and opcode come
// from h (h.Length, h.Masked and h.Mask are ignored: the length is
// len(p), and client frames are masked with a fresh key). It is the relay
// path: the caller is responsible for the sequence of fragments. Reserved
// bits need a negotiated extension; control frames must be final and carry
// at most 125 bytes. A data frame waits for a message being written with
// Writer or WriteMessage to end. The frame is flushed unless
// Options.DeferFlush is set and it is a data frame.
func (c *Conn) WriteFrame(ctx context.Context, h Header, p []byte) error {
	h.Length = int64(len(p))
	if err := c.checkOutgoing(h); err != nil {
		return err
	}
	if h.OpCode.IsControl() {
		return c.writeFrame(ctx, h, p, true)
	}
	if err := c.acquire(ctx, c.msgSem); err != nil {
		return err
	}
	defer func() { <-c.msgSem }()
	return c.writeFrame(ctx, h, p, !c.opts.DeferFlush)
}

// WriteFrameFrom sends one frame of h.Length payload bytes read from r,
// streamed in bounded memory (a relay of a 1 GiB frame needs no 1 GiB
// buffer). Otherwise it is WriteFrame. If r ends early the connection is
// aborted, since the frame on the wire cannot be completed.
func (c *Conn) WriteFrameFrom(ctx context.Context, h Header, r io.Reader) error {
	if err := c.checkOutgoing(h); err != nil {
		return err
	}
	if !h.OpCode.IsControl() {
		if err := c.acquire(ctx, c.msgSem); err != nil {
			return err
		}
		defer func() { <-c.msgSem }()
	}
	if err := c.acquire(ctx, c.frameSem); err != nil {
		return err
	}
	defer func() { <-c.frameSem }()
	stop := c.watch(ctx)
	if stop != nil {
		defer stop()
	}
	if err := c.putHeader(h); err != nil {
		return err
	}
	// A client relaying a masked frame that needs no UTF-8 check re-masks
	// it in one pass with the XOR of both keys (the payload is never
	// unmasked in between).
	src, _ := r.(*payloadReader)
	onePass := c.client && src != nil && src.c != c && src.c.rawRelayable()
	for left := h.Length; left > 0; {
		buf := c.bw.AvailableBuffer()
		if cap(buf) == 0 {
			if err := c.flushLocked(); err != nil {
				return err
			}
			continue
		}
		buf = buf[:min(int64(cap(buf)), left)]
		var n int
		var err error
		if onePass {
			var key [4]byte
			var pos int
			n, key, pos, err = src.c.readMasked(buf)
			if n > 0 {
				c.outPos = Mask(relayKey(key, pos, c.outMask, c.outPos), c.outPos, buf[:n])
			}
			switch {
			case errors.Is(err, io.EOF) && n > 0:
				err = nil // the source frame ends with these bytes
			case err == nil && n == 0:
				err = io.ErrNoProgress
			}
		} else {
			n, err = io.ReadFull(r, buf)
			c.maskOut(buf[:n])
		}
		if err != nil {
			c.abort(err)
			return c.writeFailed(fmt.Errorf("ws: reading frame payload: %w", err))
		}
		if _, err := c.bw.Write(buf[:n]); err != nil {
			return c.writeFailed(err)
		}
		left -= int64(n)
	}
	if h.OpCode.IsControl() || !c.opts.DeferFlush {
		return c.flushFrame()
	}
	c.pending.Store(int64(c.bw.Buffered()))
	return nil
}

// checkOutgoing checks a frame the caller built (WriteFrame, WriteFrameFrom).
func (c *Conn) checkOutgoing(h Header) error {
	switch {
	case h.Length < 0:
		return fmt.Errorf("ws: negative frame length %d", h.Length)
	case h.OpCode.IsReserved():
		return fmt.Errorf("ws: cannot send reserved opcode 0x%x", byte(h.OpCode))
	case h.Rsv != 0 && c.extensions == "":
		return fmt.Errorf("ws: cannot send reserved bits 0x%x without a negotiated extension", h.Rsv)
	case h.OpCode.IsControl() && (!h.Fin || h.Length > MaxControlPayload):
		return fmt.Errorf("ws: %s frame must be final and at most 125 bytes", h.OpCode)
	case h.OpCode == OpClose:
		return errors.New("ws: send close frames with Close")
	}
	if !h.OpCode.IsControl() && c.closing() {
		return ErrClosed
	}
	return nil
}

// Ping sends a ping carrying payload, truncated to 125 bytes as Qt does.
// The matching pong is reported to Events.OnPong with the round-trip time.
func (c *Conn) Ping(ctx context.Context, payload []byte) error {
	if len(payload) > MaxControlPayload {
		payload = payload[:MaxControlPayload]
	}
	c.pingSent.Store(time.Now().UnixNano())
	return c.writeControl(ctx, OpPing, payload)
}

// Pong sends an unsolicited pong (RFC 6455 §5.5.3) or, with automatic
// pongs disabled, the answer to a ping. payload is truncated to 125 bytes.
func (c *Conn) Pong(ctx context.Context, payload []byte) error {
	if len(payload) > MaxControlPayload {
		payload = payload[:MaxControlPayload]
	}
	return c.writeControl(ctx, OpPong, payload)
}

// Flush writes the buffered frames to the connection (Qt flush).
func (c *Conn) Flush(ctx context.Context) error {
	if err := c.acquire(ctx, c.frameSem); err != nil {
		return err
	}
	defer func() { <-c.frameSem }()
	return c.flushFrame()
}

// writeControl sends a control frame and flushes it. Once a close frame is
// out, nothing more is sent.
func (c *Conn) writeControl(ctx context.Context, op OpCode, p []byte) error {
	if op != OpClose && c.closing() {
		return ErrClosed
	}
	return c.writeFrame(ctx, Header{Fin: true, OpCode: op}, p, true)
}

// writeFrame writes one frame with payload p under frameSem.
func (c *Conn) writeFrame(ctx context.Context, h Header, p []byte, flush bool) error {
	if err := c.acquire(ctx, c.frameSem); err != nil {
		return err
	}
	defer func() { <-c.frameSem }()
	if stop := c.watch(ctx); stop != nil {
		defer stop()
	}
	h.Length = int64(len(p))
	if err := c.putHeader(h); err != nil {
		return err
	}
	if c.client {
		for len(p) > 0 {
			buf := c.bw.AvailableBuffer()
			if cap(buf) == 0 {
				if err := c.flushLocked(); err != nil {
					return err
				}
				continue
			}
			m := min(len(p), cap(buf))
			buf = append(buf, p[:m]...)
			c.maskOut(buf)
			if _, err := c.bw.Write(buf); err != nil {
				return c.writeFailed(err)
			}
			p = p[m:]
		}
	} else if _, err := c.bw.Write(p); err != nil {
		return c.writeFailed(err)
	}
	if flush {
		return c.flushFrame()
	}
	c.pending.Store(int64(c.bw.Buffered()))
	return nil
}

// putHeader writes a frame header into the buffer, masked for clients.
// The caller holds frameSem.
func (c *Conn) putHeader(h Header) error {
	if c.writeErr != nil {
		return c.writeErr
	}
	select {
	case <-c.done:
		return ErrClosed
	default:
	}
	c.attachWriter()
	h.Masked = c.client
	if c.client {
		h.Mask = c.masks.NextMask()
	}
	n, err := PutHeader(&c.whdr, h)
	if err != nil {
		return err
	}
	c.outMask, c.outPos = h.Mask, 0
	if _, err := c.bw.Write(c.whdr[:n]); err != nil {
		return c.writeFailed(err)
	}
	return nil
}

// relayKey returns the key that, applied by Mask at position dstPos,
// turns bytes masked with src (starting at position srcPos) into bytes
// masked with dst: k[j] = dst[j] ^ src[(srcPos-dstPos+j) mod 4].
func relayKey(src [4]byte, srcPos int, dst [4]byte, dstPos int) [4]byte {
	var k [4]byte
	for j := range k {
		k[j] = dst[j] ^ src[(srcPos-dstPos+j)&3]
	}
	return k
}

// maskOut masks payload bytes already copied into the write buffer.
func (c *Conn) maskOut(p []byte) {
	if c.client {
		c.outPos = Mask(c.outMask, c.outPos, p)
	}
}

// flushFrame flushes at the end of a frame (or for Flush) and gives the
// emptied write buffer back: an idle connection holds none.
func (c *Conn) flushFrame() error {
	err := c.flushLocked()
	if err == nil {
		c.releaseWriter()
	}
	return err
}

// flushLocked writes the buffered bytes. The caller holds frameSem.
func (c *Conn) flushLocked() error {
	if c.writeErr != nil {
		return c.writeErr
	}
	if c.bw == nil {
		return nil
	}
	err := c.bw.Flush()
	c.pending.Store(int64(c.bw.Buffered()))
	if err != nil {
		return c.writeFailed(err)
	}
	return nil
}

// writeFailed makes a write error sticky and closes the connection: a frame
// cut in the middle cannot be resumed.
func (c *Conn) writeFailed(err error) error {
	select {
	case <-c.done:
		err = fmt.Errorf("%w: %w", ErrClosed, err)
	default:
		err = fmt.Errorf("ws: write: %w", err)
	}
	c.writeErr = err
	if f := c.opts.Events.OnError; f != nil {
		f(err)
	}
	c.abort(err)
	return err
}
