package ws

import (
	"context"
	"errors"
	"io"
	"os"
	"strconv"
	"time"
)

// NextFrame reads the next frame's header and returns it with a reader for
// its payload, which streams from the connection in bounded memory. Data
// frames and control frames are both returned; control frames have been
// handled already (pong answered, close handshake done, events fired) and
// their payload is buffered. The payload reader is valid until the next
// call to NextFrame or Reader; unread payload is skipped then (and still
// checked as UTF-8 when it is text).
//
// Every rule of RFC 6455 §5 is enforced: a violation closes the connection
// with 1002, 1007 or 1009 and returns a *ProtocolError. After the peer's
// close frame, NextFrame returns a *CloseError with its code and reason.
// ctx governs the read of the header and of the payload: when it ends, the
// connection is closed.
func (c *Conn) NextFrame(ctx context.Context) (Header, io.Reader, error) {
	return c.NextFrameWithin(ctx, 0)
}

// ErrIdle is returned by NextFrameWithin when no frame began within its
// limit. Nothing was read: the connection is as it was, and the next call
// waits again.
var ErrIdle = errors.New("ws: no frame began within the idle limit")

// NextFrameWithin is NextFrame, except that it returns ErrIdle when the
// first byte of the next frame has not arrived after idle (0 or less: no
// limit). The wait holds no read buffer. A relay uses it to find the
// connections idle long enough to park (ParkRead). The limit applies on
// a TCP socket, directly or under layers that have a NetConn method
// (crypto/tls, the PSK stack); on other connections the wait is not
// limited.
func (c *Conn) NextFrameWithin(ctx context.Context, idle time.Duration) (Header, io.Reader, error) {
	if err := c.acquire(ctx, c.readSem); err != nil {
		return Header{}, nil, err
	}
	defer func() { <-c.readSem }()
	c.idleLimit = max(idle, 0)
	defer func() { c.idleLimit = 0 }()
	c.startRead(ctx)
	if err := c.skipPayload(); err != nil {
		return Header{}, nil, err
	}
	c.watchMessage = false
	h, err := c.nextFrame(true)
	if err != nil {
		return Header{}, nil, err
	}
	if h.OpCode.IsControl() {
		c.endWatch()
	}
	return h, &c.payload, nil
}

// Reader waits for the next data message and returns its type and a
// reader of its payload, reassembled across fragments, streamed in bounded
// memory, and checked as UTF-8 when it is text (1007 on failure). Control
// frames between fragments are handled on the way. The reader is valid
// until the next call to Reader or NextFrame; an unread rest of the message
// is skipped then. ctx governs the whole message read: when it ends, the
// connection is closed.
func (c *Conn) Reader(ctx context.Context) (MessageType, io.Reader, error) {
	if err := c.acquire(ctx, c.readSem); err != nil {
		return 0, nil, err
	}
	defer func() { <-c.readSem }()
	c.startRead(ctx)
	if err := c.skipMessage(); err != nil {
		return 0, nil, err
	}
	c.watchMessage = true
	h, err := c.nextFrame(false)
	if err != nil {
		return 0, nil, err
	}
	return h.OpCode, &c.message, nil
}

// ReadMessage reads the next data message whole. Its size is bounded by
// Options.MaxIncomingMessageSize; use Reader to stream larger messages.
func (c *Conn) ReadMessage(ctx context.Context) (MessageType, []byte, error) {
	typ, r, err := c.Reader(ctx)
	if err != nil {
		return 0, nil, err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return 0, nil, err
	}
	return typ, b, nil
}

// startRead binds ctx to the read that begins: the frame (NextFrame) or
// message (Reader) being read, until its payload is consumed.
func (c *Conn) startRead(ctx context.Context) {
	c.endWatch()
	c.readStop = c.watch(ctx)
}

// endWatch ends the binding of the current read's context.
func (c *Conn) endWatch() {
	if c.readStop != nil {
		c.readStop()
		c.readStop = nil
	}
}

// nextFrame reads frame headers until a data frame (or, with wantControl,
// any frame), handling control frames on the way. The caller holds readSem.
func (c *Conn) nextFrame(wantControl bool) (Header, error) {
	for {
		if c.readErr != nil {
			return Header{}, c.readErr
		}
		if err := c.awaitFrame(); err != nil {
			if err == ErrIdle {
				return Header{}, err
			}
			return Header{}, c.lost(err)
		}
		h, err := ReadHeader(c.br, &c.rhdr)
		if err != nil {
			if errors.Is(err, ErrHeader) {
				return Header{}, c.fail(&ProtocolError{Code: StatusProtocolError, Msg: err.Error(), Err: err})
			}
			return Header{}, c.readFailed(err)
		}
		if perr := c.checkHeader(h); perr != nil {
			return Header{}, c.fail(perr)
		}
		if h.OpCode.IsControl() {
			if err := c.readControl(h); err != nil {
				return Header{}, err
			}
			if wantControl {
				return h, nil
			}
			continue
		}
		c.ctrlData = nil
		c.frame = h
		c.remaining = h.Length
		c.maskPos = 0
		if h.OpCode != OpContinuation {
			c.inMessage = true
			c.msgType = h.OpCode
			c.msgLen = 0
			// Text is checked unless an extension transformed it
			// (reserved bits set on its first frame, e.g. permessage-deflate).
			c.validate = h.OpCode == OpText && h.Rsv == 0
			c.utf8.reset()
		}
		c.msgLen += h.Length
		if h.Length == 0 {
			if err := c.endFrame(); err != nil {
				return Header{}, err
			}
		}
		return h, nil
	}
}

// awaitFrame waits for the first byte of the next frame without a
// deadline (an idle connection is not a stalled one) and without a read
// buffer (awaitReadable), then arms the
// frame-progress deadline (Options.FrameTimeout) for the rest of the
// header unless it is buffered already. The caller holds readSem.
func (c *Conn) awaitFrame() error {
	if c.br == nil || c.br.Buffered() == 0 {
		if c.rdArmed && !c.rdFixed {
			c.rdArmed = false
			_ = c.nc.SetReadDeadline(time.Time{})
		}
		if err := c.awaitReadable(); err != nil {
			return err
		}
		if _, err := c.br.Peek(1); err != nil {
			return err
		}
	}
	if c.br.Buffered() < MaxHeaderSize {
		c.armRead()
	}
	return nil
}

// armRead bounds the next read inside a frame by Options.FrameTimeout.
// The caller holds readSem.
func (c *Conn) armRead() {
	if c.opts.FrameTimeout <= 0 || c.rdFixed {
		return
	}
	c.rdArmed = true
	_ = c.nc.SetReadDeadline(time.Now().Add(c.opts.FrameTimeout))
}

// readFailed ends the connection after a read error inside a frame: a
// peer that let the frame-progress deadline pass is stalled (1008),
// anything else is a lost connection (1006).
func (c *Conn) readFailed(err error) error {
	if c.rdArmed && !c.rdFixed && c.readErr == nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return c.fail(&ProtocolError{Code: StatusPolicyViolation, Err: ErrStalled,
			Msg: "peer stalled mid-frame for " + c.opts.FrameTimeout.String()})
	}
	return c.lost(err)
}

// internalWriteTimeout bounds a write the connection makes on its own
// (an automatic pong), including the wait for another writer.
func (c *Conn) internalWriteTimeout() time.Duration {
	if c.opts.WriteTimeout > 0 {
		return c.opts.WriteTimeout
	}
	return c.opts.CloseTimeout
}

// checkHeader applies RFC 6455 §5.1-§5.5 and the incoming limits to a header.
func (c *Conn) checkHeader(h Header) *ProtocolError {
	switch {
	case h.Rsv != 0 && c.extensions == "":
		return protocolErrorf(StatusProtocolError, "reserved bits 0x%x set without a negotiated extension", h.Rsv)
	case h.OpCode.IsReserved():
		return protocolErrorf(StatusProtocolError, "reserved opcode 0x%x", byte(h.OpCode))
	case !c.client && !h.Masked:
		return protocolErrorf(StatusProtocolError, "unmasked frame from client")
	case c.client && h.Masked:
		return protocolErrorf(StatusProtocolError, "masked frame from server")
	}
	if h.OpCode.IsControl() {
		if !h.Fin {
			return protocolErrorf(StatusProtocolError, "fragmented %s frame", h.OpCode)
		}
		if h.Length > MaxControlPayload {
			return protocolErrorf(StatusProtocolError, "%s frame payload of %d bytes exceeds 125", h.OpCode, h.Length)
		}
		return nil
	}
	if h.OpCode == OpContinuation && !c.inMessage {
		return protocolErrorf(StatusProtocolError, "continuation frame without a message to continue")
	}
	if h.OpCode != OpContinuation && c.inMessage {
		return protocolErrorf(StatusProtocolError, "new %s message inside a fragmented message", h.OpCode)
	}
	if max := c.opts.MaxIncomingFrameSize; max > 0 && h.Length > max {
		return &ProtocolError{Code: StatusMessageTooBig, Err: ErrMessageTooBig,
			Msg: "frame of " + itoa(h.Length) + " bytes exceeds the limit of " + itoa(max)}
	}
	msgLen := h.Length
	if h.OpCode == OpContinuation {
		msgLen += c.msgLen
	}
	if max := c.opts.MaxIncomingMessageSize; max > 0 && msgLen > max {
		return &ProtocolError{Code: StatusMessageTooBig, Err: ErrMessageTooBig,
			Msg: "message of " + itoa(msgLen) + "+ bytes exceeds the limit of " + itoa(max)}
	}
	return nil
}

// readControl reads a control frame's payload and acts on it (RFC 6455 §5.5).
func (c *Conn) readControl(h Header) error {
	p := c.ctrl[:h.Length]
	if c.br.Buffered() < len(p) {
		c.armRead()
	}
	if _, err := io.ReadFull(c.br, p); err != nil {
		return c.readFailed(err)
	}
	if h.Masked {
		Mask(h.Mask, 0, p)
	}
	c.ctrlData = p
	switch h.OpCode {
	case OpPing:
		if f := c.opts.Events.OnPing; f != nil {
			f(p)
		}
		if !c.opts.DisableAutoPong && !c.closing() {
			// Bounded: a pong never waits forever behind a stuck writer.
			// A failed pong surfaces on the next write or read.
			ctx, cancel := c.boundedCtx(c.internalWriteTimeout())
			_ = c.writeControl(ctx, OpPong, p)
			cancel()
		}
	case OpPong:
		if f := c.opts.Events.OnPong; f != nil {
			var elapsed time.Duration
			if sent := c.pingSent.Load(); sent != 0 {
				elapsed = time.Since(time.Unix(0, sent))
			}
			f(elapsed, p)
		}
	case OpClose:
		return c.readClose(p)
	}
	return nil
}

func (c *Conn) closing() bool {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	return c.closeSent
}

// readClose completes the closing handshake on the peer's close frame
// (RFC 6455 §5.5.1, §7.1): answer it unless we closed first, then close the
// TCP connection (the server at once, the client after the server did).
func (c *Conn) readClose(p []byte) error {
	code, reason, err := ParseClosePayload(p)
	if err != nil {
		var perr *ProtocolError
		errors.As(err, &perr)
		return c.fail(perr)
	}
	c.closeMu.Lock()
	c.closeRecvd = true
	sent := c.closeSent
	manual := !sent && c.opts.ManualCloseReply
	if !manual {
		c.closeSent = true
	}
	c.closeMu.Unlock()
	c.setStatus(code, reason, true)
	close(c.closeRecv)
	c.readFinished()
	c.readErr = &CloseError{Code: code, Reason: reason}
	if manual {
		// The application answers with Close, after the other leg of its
		// relay did; data may still be sent until then.
		c.aboutToClose()
		c.setState(StateClosing)
		return c.readErr
	}
	if !sent {
		c.aboutToClose()
		c.setState(StateClosing)
		// Echo the code and reason (an empty payload for 1005).
		ctx, cancel := c.boundedCtx(c.opts.CloseTimeout)
		_ = c.writeControl(ctx, OpClose, p)
		cancel()
	}
	c.finishClose()
	return c.readErr
}

// finishClose ends the connection once both close frames are exchanged:
// the server closes TCP at once, the client first waits (bounded by
// CloseTimeout) for the server to do so (RFC 6455 §7.1.1). The caller
// reads the connection or holds readSem.
func (c *Conn) finishClose() {
	if c.client {
		c.rdFixed = true
		c.attachReader()
		_ = c.nc.SetReadDeadline(time.Now().Add(c.opts.CloseTimeout))
		_, _ = io.Copy(io.Discard, io.LimitReader(c.br, 1<<20))
	}
	c.abort(c.readErr)
}

// endFrame runs when a data frame's payload is fully read.
func (c *Conn) endFrame() error {
	if !c.watchMessage || c.frame.Fin {
		c.endWatch() // the frame or message the context was bound to is read
	}
	if !c.frame.Fin {
		return nil
	}
	c.inMessage = false
	if c.validate && !c.utf8.done() {
		return c.fail(&ProtocolError{Code: StatusInvalidFramePayloadData, Err: ErrInvalidUTF8,
			Msg: "text message ends inside a UTF-8 character"})
	}
	return nil
}

// readPayload reads from the current data frame; io.EOF at its end.
func (c *Conn) readPayload(p []byte) (int, error) { return c.readFramePayload(p, false) }

// readFramePayload reads from the current data frame, unmasking and
// checking the bytes, or with raw leaving them as they came on the wire
// (readMasked); io.EOF at the frame's end.
func (c *Conn) readFramePayload(p []byte, raw bool) (int, error) {
	if c.readErr != nil && c.remaining > 0 {
		return 0, c.readErr
	}
	if c.remaining == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > c.remaining {
		p = p[:c.remaining]
	}
	if c.br.Buffered() == 0 {
		c.armRead()
	}
	n, err := c.br.Read(p)
	if n > 0 {
		if err := c.consume(p[:n], raw); err != nil {
			return 0, err
		}
	}
	if err != nil && c.remaining > 0 {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return n, c.readFailed(err)
	}
	if c.remaining == 0 {
		return n, io.EOF
	}
	return n, nil
}

// rawRelayable reports whether the current frame's payload can be handed
// out still masked (readMasked): a masked data frame that needs no UTF-8
// check.
func (c *Conn) rawRelayable() bool {
	c.readSem <- struct{}{}
	defer func() { <-c.readSem }()
	return c.ctrlData == nil && c.frame.Masked && !c.validate && c.remaining > 0
}

// readMasked reads payload bytes of the current frame into p as they came
// on the wire, still masked, and returns the masking key and the key
// position of p[0]: a relay re-masks them with its own key in the same
// pass (WriteFrameFrom). Only frames rawRelayable allows take this path.
// It returns io.EOF at the end of the frame.
func (c *Conn) readMasked(p []byte) (n int, key [4]byte, pos int, err error) {
	c.readSem <- struct{}{}
	defer func() { <-c.readSem }()
	key, pos = c.frame.Mask, c.maskPos
	n, err = c.readFramePayload(p, true)
	return n, key, pos, err
}

// consume unmasks and checks freshly read payload bytes, or with raw
// only accounts for them (their key position still advances).
func (c *Conn) consume(p []byte, raw bool) error {
	switch {
	case raw:
		c.maskPos = (c.maskPos + len(p)) & 3
	case c.frame.Masked:
		c.maskPos = Mask(c.frame.Mask, c.maskPos, p)
	}
	c.remaining -= int64(len(p))
	if !raw && c.validate && !c.utf8.write(p) {
		return c.fail(&ProtocolError{Code: StatusInvalidFramePayloadData, Err: ErrInvalidUTF8,
			Msg: "text message is not valid UTF-8"})
	}
	if c.remaining == 0 {
		return c.endFrame()
	}
	return nil
}

// skipPayload discards the unread rest of the current frame, still
// checking text as UTF-8.
func (c *Conn) skipPayload() error {
	for c.remaining > 0 {
		if c.readErr != nil {
			return c.readErr
		}
		n := c.br.Buffered()
		if n == 0 {
			c.armRead()
			if _, err := c.br.Peek(1); err != nil {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return c.readFailed(err)
			}
			n = c.br.Buffered()
		}
		if int64(n) > c.remaining {
			n = int(c.remaining)
		}
		p, _ := c.br.Peek(n)
		// The peeked bytes are discarded right after; unmasking them in
		// the buffer avoids a copy.
		err := c.consume(p, false)
		_, _ = c.br.Discard(n)
		if err != nil {
			return err
		}
	}
	return nil
}

// skipMessage discards the unread rest of the current message.
func (c *Conn) skipMessage() error {
	for {
		if err := c.skipPayload(); err != nil {
			return err
		}
		if !c.inMessage {
			return nil
		}
		if _, err := c.nextFrame(false); err != nil {
			return err
		}
	}
}

// payloadReader reads the current frame's payload (NextFrame).
type payloadReader struct{ c *Conn }

func (r *payloadReader) Read(p []byte) (int, error) {
	c := r.c
	c.readSem <- struct{}{}
	defer func() { <-c.readSem }()
	if c.ctrlData != nil {
		n := copy(p, c.ctrlData)
		c.ctrlData = c.ctrlData[n:]
		if len(c.ctrlData) == 0 {
			return n, io.EOF
		}
		return n, nil
	}
	return c.readPayload(p)
}

// messageReader reads the current message across its frames (Reader).
type messageReader struct{ c *Conn }

func (r *messageReader) Read(p []byte) (int, error) {
	c := r.c
	c.readSem <- struct{}{}
	defer func() { <-c.readSem }()
	for {
		if c.remaining > 0 {
			n, err := c.readPayload(p)
			if err == io.EOF {
				if c.inMessage {
					err = nil // more fragments follow
				}
			}
			if n > 0 || err != nil {
				return n, err
			}
			continue
		}
		if !c.inMessage {
			return 0, io.EOF
		}
		if _, err := c.nextFrame(false); err != nil {
			return 0, err
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
