package ws

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ProtocolVersion is the WebSocket protocol version this package speaks
// (RFC 6455 §4.1, Sec-WebSocket-Version).
const ProtocolVersion = 13

// Conn is an open WebSocket connection, client or server side.
//
// Writes (WriteMessage, Writer, WriteFrame, Ping, Pong, Close, Flush) are
// safe from several goroutines at once: a message's frames are never
// interleaved with another message's, while control frames may go out
// between the fragments of a long message. Reads (ReadMessage, Reader,
// NextFrame, Run) take one reader at a time. Control frames are processed
// while reading: an application must keep reading to see pongs and the
// peer's close.
//
// Cancelling the context passed to a blocking call closes the connection
// (as Abort does): a half-read or half-written frame cannot be resumed.
type Conn struct {
	nc net.Conn
	// br and bw are the read and write buffers, nil while idle (see
	// buffers.go); brPooled and bwPooled say whether they go back to the
	// pools. sock and layered let the read side wait without a buffer.
	br       *bufio.Reader
	bw       *bufio.Writer
	brPooled bool
	brKeep   bool // a read buffer of another size: kept while idle
	bwPooled bool
	sock     syscall.RawConn
	layered  bool // layers (crypto/tls) between nc and sock (socketOf)
	cw       countingWriter
	client   bool
	opts     Options

	subprotocol string
	extensions  string
	request     *http.Request
	response    *http.Response
	url         *url.URL

	state atomic.Int32

	// bound is the context BindContext tied the connection to (boundDone
	// its Done channel, unbind the stop of its watch).
	bound     context.Context
	boundDone <-chan struct{}
	unbind    func() bool

	// Read side: readSem is held by the goroutine reading; the fields
	// below it belong to that goroutine.
	readSem   chan struct{}
	rhdr      [MaxHeaderSize]byte
	ctrl      [MaxControlPayload]byte
	frame     Header // current frame
	remaining int64  // payload bytes of frame still to read
	ctrlData  []byte // payload of a control frame returned by NextFrame
	maskPos   int
	inMessage bool   // a data message has started and its final frame is not done
	msgType   OpCode // type of the current message
	msgLen    int64  // payload bytes of the current message so far
	validate  bool   // current message is text to check as UTF-8
	utf8      utf8Validator
	readErr   error
	// rdArmed: a frame-progress read deadline is set; rdFixed: the
	// closing handshake set its own read deadline, leave it alone.
	rdArmed  bool
	rdFixed  bool
	readStop func() bool // stops the context watch of the current read
	// idleLimit bounds the wait for the first byte of the next frame
	// (NextFrameWithin); 0: no bound.
	idleLimit time.Duration
	// layersDrained: the last wait found the layers above the socket
	// (crypto/tls) empty and timed out on the socket (ErrIdle); nothing
	// was read since, so the next wait need not check them again (which
	// would grow the stack of the goroutine waiting).
	layersDrained bool
	// parked is the connection's parking while ParkRead holds its wait.
	parked atomic.Pointer[parking]
	// watchMessage: the watch lasts for the message (Reader), not the frame.
	watchMessage bool
	payload      payloadReader
	message      messageReader

	// Write side: msgSem is held for a whole data message, frameSem for
	// one frame; the fields below frameSem belong to its holder.
	msgSem   chan struct{}
	frameSem chan struct{}
	whdr     [MaxHeaderSize]byte
	masks    MaskGenerator
	writeErr error
	outMask  [4]byte // masking key of the frame being written
	outPos   int
	writer   messageWriter

	pending  atomic.Int64 // bytes in the write buffer
	written  atomic.Int64 // bytes put on the connection
	pingSent atomic.Int64 // unix nanoseconds of the last ping sent

	// Closing.
	closeMu     sync.Mutex
	closeSent   bool
	closeRecvd  bool
	peerFailed  bool // a protocol error awaits the application's close (ManualCloseReply)
	status      CloseError
	statusSet   bool
	closeTimer  *time.Timer   // aborts a StartClose the peer does not answer
	closeRecv   chan struct{} // closed when the peer's close frame is read
	done        chan struct{} // closed when the connection is closed
	closeOnce   sync.Once
	aboutOnce   sync.Once
	readFinOnce sync.Once
}

// newConn wraps an established connection whose opening handshake is done.
// br may hold bytes already read past the handshake; pooled says it came
// from the read buffer pool (handshakeReader), to which it returns once
// drained.
func newConn(nc net.Conn, br *bufio.Reader, pooled, client bool, o *Options) *Conn {
	c := &Conn{
		nc:        nc,
		client:    client,
		opts:      o.withDefaults(),
		readSem:   make(chan struct{}, 1),
		msgSem:    make(chan struct{}, 1),
		frameSem:  make(chan struct{}, 1),
		closeRecv: make(chan struct{}),
		done:      make(chan struct{}),
	}
	switch {
	case br != nil && br.Buffered() > 0:
		// Bytes read past the handshake: kept until drained, then
		// returned to the pool or dropped.
		c.br, c.brPooled = br, pooled
	case pooled:
		br.Reset(nil)
		readerPool.Put(br)
	}
	c.sock, c.layered = socketOf(nc)
	c.cw.c = c
	c.masks = c.opts.MaskGenerator
	if c.masks == nil && client {
		c.masks = newRandomMasks()
	}
	c.payload.c = c
	c.message.c = c
	c.writer.c = c
	return c
}

// open moves a new connection to StateOpen and fires OnConnected.
func (c *Conn) open() {
	c.setState(StateOpen)
	if f := c.opts.Events.OnConnected; f != nil {
		f()
	}
	c.opts.Logger.Debug().Str("remote", c.nc.RemoteAddr().String()).Bool("client", c.client).Msg("ws: open")
}

// State returns the connection's current state.
func (c *Conn) State() State { return State(c.state.Load()) }

// IsValid reports whether the connection is open (Qt isValid).
func (c *Conn) IsValid() bool { return c.State() == StateOpen }

func (c *Conn) setState(s State) {
	if State(c.state.Swap(int32(s))) != s {
		if f := c.opts.Events.OnStateChanged; f != nil {
			f(s)
		}
	}
}

// Subprotocol returns the subprotocol the handshake selected, or "".
func (c *Conn) Subprotocol() string { return c.subprotocol }

// Extensions returns the Sec-WebSocket-Extensions value the handshake
// negotiated, verbatim, or "". Reserved bits are allowed on frames only
// when it is not empty.
func (c *Conn) Extensions() string { return c.extensions }

// Request returns the opening handshake's request: the one received (server)
// or sent (client); nil with Options.DiscardHandshake.
func (c *Conn) Request() *http.Request { return c.request }

// Response returns the server's handshake response on a client connection,
// nil on a server connection or with Options.DiscardHandshake.
func (c *Conn) Response() *http.Response { return c.response }

// keepHandshake records the opening handshake's request and response,
// unless Options.DiscardHandshake says not to.
func (c *Conn) keepHandshake(req *http.Request, resp *http.Response) {
	if !c.opts.DiscardHandshake {
		c.request, c.response = req, resp
	}
}

// URL returns the WebSocket URL of the connection (Qt requestUrl).
func (c *Conn) URL() *url.URL { return c.url }

// ResourceName returns the path and query of the URL (Qt resourceName).
func (c *Conn) ResourceName() string {
	if c.url == nil {
		return ""
	}
	return c.url.RequestURI()
}

// Version returns the protocol version, always 13.
func (c *Conn) Version() int { return ProtocolVersion }

// RemoteAddr returns the peer's address (Qt peerAddress/peerPort).
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// LocalAddr returns the local address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// NetConn returns the underlying connection (a *tls.Conn for wss).
func (c *Conn) NetConn() net.Conn { return c.nc }

// BytesToWrite returns the number of bytes waiting in the write buffer
// (Qt bytesToWrite).
func (c *Conn) BytesToWrite() int64 { return c.pending.Load() }

// BytesWritten returns the number of bytes written to the underlying
// connection so far, framing included.
func (c *Conn) BytesWritten() int64 { return c.written.Load() }

// Done returns a channel closed when the connection is closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// CloseStatus returns the code and reason the connection was closed with
// (Qt closeCode/closeReason): the peer's close frame when one was received,
// otherwise the code this side sent or failed the connection with, or 1006
// when the connection ended without a close frame. Before the connection
// closes it returns 0 and "".
func (c *Conn) CloseStatus() (StatusCode, string) {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	return c.status.Code, c.status.Reason
}

// setStatus records the close status unless one is recorded already or
// override is set (a received close frame overrides what we sent).
func (c *Conn) setStatus(code StatusCode, reason string, override bool) {
	c.closeMu.Lock()
	if !c.statusSet || override {
		c.status = CloseError{Code: code, Reason: reason}
		c.statusSet = true
	}
	c.closeMu.Unlock()
}

func (c *Conn) closeError() *CloseError {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	e := c.status
	return &e
}

// countingWriter writes to the underlying connection, counting bytes.
type countingWriter struct{ c *Conn }

// Each write is bounded by Options.WriteTimeout.
func (w *countingWriter) Write(p []byte) (int, error) {
	c := w.c
	if d := c.opts.WriteTimeout; d > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(d))
	}
	n, err := c.nc.Write(p)
	if n > 0 {
		c.written.Add(int64(n))
		if f := c.opts.Events.OnBytesWritten; f != nil {
			f(n)
		}
	}
	if err != nil && c.opts.WriteTimeout > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("%w after %s: %w", ErrWriteTimeout, c.opts.WriteTimeout, err)
	}
	return n, err
}

// acquire takes sem, giving up when ctx ends or the connection closes.
func (c *Conn) acquire(ctx context.Context, sem chan struct{}) error {
	select {
	case sem <- struct{}{}:
		return nil
	default:
	}
	select {
	case sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ws: %w", ctx.Err())
	case <-c.done:
		return ErrClosed
	}
}

// watch closes the connection when ctx ends, until the returned stop
// function is called. It costs nothing for contexts that never end, nor
// for the bound context (BindContext) and contexts that end with it.
func (c *Conn) watch(ctx context.Context) func() bool {
	d := ctx.Done()
	if d == nil || d == c.boundDone {
		return nil
	}
	return context.AfterFunc(ctx, func() { c.abort(fmt.Errorf("ws: %w", context.Cause(ctx))) })
}

// BindContext ties the connection to ctx for the rest of its life: when
// ctx ends, the connection is closed (as when the context of a blocking
// call ends). Calls given ctx, or a context sharing its Done channel,
// then skip the per-call watch of their context, which costs an
// allocation: a relay binds its context once and passes it to every
// read and write. Call it before the connection is used from several
// goroutines; a connection is bound once, a second call is an error.
func (c *Conn) BindContext(ctx context.Context) error {
	if c.bound != nil {
		return errors.New("ws: BindContext: connection already bound")
	}
	c.unbind = c.watch(ctx)
	c.bound, c.boundDone = ctx, ctx.Done()
	return nil
}

// AdoptContext is BindContext without the watch: calls given ctx (or a
// context sharing its Done channel) skip their per-call watch, and a call
// waiting for another reader or writer gives up when ctx ends, but ending
// ctx does not close the connection, so a call blocked on the network
// goes on until its own deadline or the connection's close. The caller
// promises to close the connection (Abort) whenever it ends ctx early. A
// relay that owns both its legs and their context adopts it, which saves
// the watch's allocations (a few hundred bytes a connection, for as long
// as it lives). A connection is bound or adopts once; a second call is an
// error.
func (c *Conn) AdoptContext(ctx context.Context) error {
	if c.bound != nil {
		return errors.New("ws: AdoptContext: connection already bound")
	}
	c.bound, c.boundDone = ctx, ctx.Done()
	return nil
}

// boundedCtx returns the context of a write the connection makes on its
// own (a pong, a close frame): it ends after d, or with the bound context.
func (c *Conn) boundedCtx(d time.Duration) (context.Context, context.CancelFunc) {
	parent := c.bound
	if parent == nil {
		parent = context.Background()
	}
	return context.WithTimeout(parent, d)
}

// Close performs the closing handshake (RFC 6455 §7.1.2) and returns when
// the connection is closed: it sends a close frame with code and reason
// (truncated to 123 bytes on a UTF-8 boundary), waits up to
// Options.CloseTimeout for the peer's close frame, and closes the
// connection. StatusNoStatusReceived sends a close frame without a status.
// Buffered frames are written before the close frame. A goroutine blocked
// reading receives the peer's close; otherwise Close reads, and discards,
// what arrives until the close frame: an application that wants the
// messages still in flight keeps reading and calls StartClose instead.
// Close returns nil after a clean handshake, ErrClosed if the connection
// was already closing, and a *CloseError with 1006 if the peer did not
// answer in time.
func (c *Conn) Close(code StatusCode, reason string) error {
	answered, err := c.startClose(code, reason)
	if err != nil || answered {
		return err
	}
	deadline := time.Now().Add(c.opts.CloseTimeout)
	c.awaitPeerClose(deadline)
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-c.done:
	case <-timer.C:
		c.closeTimedOut()
	}
	c.closeMu.Lock()
	got := c.closeRecvd
	c.closeMu.Unlock()
	if !got {
		return c.closeError()
	}
	return nil
}

// StartClose starts the closing handshake and returns at once, like Qt's
// close(): it sends the close frame (see Close for code and reason) and
// the reading goroutine goes on receiving what the peer still sends, until
// the peer's close frame ends the connection; reads then return the
// peer's *CloseError. If the peer does not answer within
// Options.CloseTimeout the connection is aborted with 1006. With
// Options.ManualCloseReply, StartClose after the peer's close is the answer
// to it and completes the handshake.
func (c *Conn) StartClose(code StatusCode, reason string) error {
	_, err := c.startClose(code, reason)
	return err
}

// startClose sends our close frame; answered reports that it answered the
// peer's close (ManualCloseReply), which ends the handshake.
func (c *Conn) startClose(code StatusCode, reason string) (answered bool, err error) {
	var buf [MaxControlPayload]byte
	payload, err := AppendClosePayload(buf[:0], code, reason)
	if err != nil {
		return false, err
	}
	c.closeMu.Lock()
	if c.closeSent {
		c.closeMu.Unlock()
		return false, ErrClosed
	}
	c.closeSent = true
	recvd, failed := c.closeRecvd, c.peerFailed
	c.closeMu.Unlock()

	ctx, cancel := c.boundedCtx(c.opts.CloseTimeout)
	defer cancel()
	if failed {
		// The peer broke the protocol (ManualCloseReply): send the close
		// frame and close at once; nothing more is read from it.
		err := c.writeControl(ctx, OpClose, payload)
		c.abort(errors.New("ws: closed after the peer's protocol error"))
		if err != nil {
			return true, fmt.Errorf("ws: sending close frame: %w", err)
		}
		return true, nil
	}
	if recvd {
		// The peer's close was received (ManualCloseReply): answer it.
		if err := c.writeControl(ctx, OpClose, payload); err != nil {
			c.abort(err)
			return true, fmt.Errorf("ws: sending close frame: %w", err)
		}
		select {
		case c.readSem <- struct{}{}:
			c.finishClose()
			<-c.readSem
		case <-ctx.Done():
			c.closeTimedOut()
		}
		return true, nil
	}
	c.aboutToClose()
	c.setState(StateClosing)
	c.setStatus(code, TruncateUTF8(reason, MaxCloseReason), false)
	if err := c.writeControl(ctx, OpClose, payload); err != nil {
		c.abort(err)
		return false, fmt.Errorf("ws: sending close frame: %w", err)
	}
	c.closeMu.Lock()
	c.closeTimer = time.AfterFunc(c.opts.CloseTimeout, c.closeTimedOut)
	c.closeMu.Unlock()
	return false, nil
}

// closeTimedOut aborts a closing handshake the peer did not complete.
func (c *Conn) closeTimedOut() {
	select {
	case <-c.done:
		return
	default:
	}
	c.setStatus(StatusAbnormalClosure, "close handshake timed out", true)
	c.abort(errors.New("ws: close handshake timed out"))
}

// awaitPeerClose waits for the peer's close frame after ours was sent:
// read it here when no other goroutine is reading, else let the reader get it.
func (c *Conn) awaitPeerClose(deadline time.Time) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case c.readSem <- struct{}{}:
		c.rdFixed = true
		_ = c.nc.SetReadDeadline(deadline)
		// Discard what precedes the peer's close, starting with the rest
		// of a frame the application left unread.
		for c.readErr == nil {
			if err := c.skipPayload(); err != nil {
				break
			}
			if _, err := c.nextFrame(false); err != nil {
				break
			}
		}
		<-c.readSem
	case <-c.closeRecv:
	case <-c.done:
	case <-timer.C:
		c.closeTimedOut()
	}
}

// Abort closes the connection at once, without a closing handshake;
// pending writes are dropped (Qt abort). The close status becomes 1006.
func (c *Conn) Abort() { c.abort(errors.New("ws: aborted")) }

// abort closes the underlying connection once, recording 1006 unless a
// status is already known, and fires the closing events.
func (c *Conn) abort(cause error) {
	c.closeOnce.Do(func() {
		c.setStatus(StatusAbnormalClosure, "", false)
		c.closeMu.Lock()
		if c.closeTimer != nil {
			c.closeTimer.Stop()
		}
		c.closeMu.Unlock()
		// done first: a read failing because of this close must see that
		// the close was local.
		close(c.done)
		if c.unbind != nil {
			c.unbind()
		}
		c.wakeParked()
		_ = c.nc.Close()
		c.readFinished()
		c.setState(StateClosed)
		code, _ := c.CloseStatus()
		c.opts.Logger.Debug().Err(cause).Uint16("code", uint16(code)).Msg("ws: closed")
		if f := c.opts.Events.OnDisconnected; f != nil {
			f()
		}
	})
}

func (c *Conn) aboutToClose() {
	c.aboutOnce.Do(func() {
		if f := c.opts.Events.OnAboutToClose; f != nil {
			f()
		}
	})
}

func (c *Conn) readFinished() {
	c.readFinOnce.Do(func() {
		if f := c.opts.Events.OnReadChannelFinished; f != nil {
			f()
		}
	})
}

// fail fails the connection (RFC 6455 §7.1.7) after a protocol error: a
// best-effort close frame with the error's code, then the TCP close. With
// ManualCloseReply, both wait for the application's Close or StartClose.
func (c *Conn) fail(perr *ProtocolError) error {
	c.closeMu.Lock()
	sent := c.closeSent
	manual := !sent && c.opts.ManualCloseReply
	if manual {
		c.peerFailed = true
	} else {
		c.closeSent = true
	}
	c.closeMu.Unlock()
	reason := TruncateUTF8(perr.Msg, MaxCloseReason)
	c.setStatus(perr.Code, reason, false)
	c.readErr = perr
	if !sent {
		c.aboutToClose()
		c.setState(StateClosing)
	}
	if f := c.opts.Events.OnError; f != nil {
		f(perr)
	}
	if manual {
		c.readFinished()
		return perr
	}
	if !sent {
		var buf [MaxControlPayload]byte
		if payload, err := AppendClosePayload(buf[:0], perr.Code, reason); err == nil {
			ctx, cancel := c.boundedCtx(c.opts.CloseTimeout)
			_ = c.writeControl(ctx, OpClose, payload)
			cancel()
		}
	}
	c.abort(perr)
	return perr
}

// lost records a connection that ended without a closing handshake (1006).
func (c *Conn) lost(err error) error {
	if c.readErr != nil {
		return c.readErr
	}
	select {
	case <-c.done:
		// Closed locally (Abort, a cancelled context, a close timeout).
		c.readErr = fmt.Errorf("%w: %w", ErrClosed, err)
	default:
		c.setStatus(StatusAbnormalClosure, "", true)
		ce := c.closeError()
		c.readErr = fmt.Errorf("ws: connection lost: %w (%w)", ce, err)
		if f := c.opts.Events.OnError; f != nil {
			f(c.readErr)
		}
	}
	c.abort(err)
	return c.readErr
}
