package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wssproxy/wssproxy/ws"
)

// legStats counts what one direction of a relay carried.
type legStats struct {
	frames   atomic.Int64
	bytes    atomic.Int64
	messages atomic.Int64
}

// leg is one side of a relayed connection.
type leg struct {
	name  string // "client" or "upstream"
	conn  *ws.Conn
	token []byte       // payload of this leg's keepalive pings
	rtt   atomic.Int64 // nanoseconds of the last keepalive round trip
	// pingSent is the unix-nano time of the last keepalive ping.
	pingSent atomic.Int64
	// unanswered is the unix-nano time of the oldest keepalive ping not
	// yet answered, 0 if none.
	unanswered atomic.Int64
	// failed is the protocol error this leg's peer made, if any: the leg
	// is closed with its code once the other leg is done.
	failed atomic.Pointer[ws.ProtocolError]
	// rate counts the frames of the current one-second window (owned by
	// the pump reading this leg).
	rate  rateWindow
	stats legStats
	// Metric handles, resolved once per connection: what this leg sent
	// (bytes, messages) and its keepalive round trips.
	bytesSent, messagesSent prometheus.Counter
	rttSeen                 prometheus.Observer
	// parked counts the route's directions parked while idle; this
	// leg's direction is in it while its reads are parked.
	parked prometheus.Gauge
}

func newLeg(name string, conn *ws.Conn, m *Metrics, route, direction string) *leg {
	return &leg{
		name: name, conn: conn, token: newToken(),
		bytesSent:    m.bytes.WithLabelValues(route, direction),
		messagesSent: m.messages.WithLabelValues(route, direction),
		rttSeen:      m.keepaliveRTT.WithLabelValues(route, name),
		parked:       m.relayParked.WithLabelValues(route),
	}
}

// relayOptions are a route's frame-level settings.
type relayOptions struct {
	outgoingFrameSize int64
	maxTinyFrameRate  int // data frames under tinyFrame bytes a second a leg may send; 0: no limit
	maxControlRate    int // pings and pongs a second; 0: no limit
	pingInterval      time.Duration
	pongTimeout       time.Duration
	idleTimeout       time.Duration
	// parkAfter is how long a direction waits for a frame on its pump
	// goroutine before it is parked (ws.Conn.ParkRead); 0: never.
	parkAfter time.Duration
}

// relayResult is how a relayed connection ended.
type relayResult struct {
	clientCode, upstreamCode     ws.StatusCode // close codes each leg ended with
	clientReason, upstreamReason string
	initiator                    string // which leg ended first: client, upstream, proxy
	cause                        string // why, for the log
}

// pair is one relayed connection: two legs and the goroutines between them.
type pair struct {
	info             connInfo
	client, upstream *leg
	opts             relayOptions
	// ctx is bound to both legs (ws.Conn.BindContext): every read and
	// write of the relay is cancellable through it.
	ctx    context.Context
	cancel context.CancelFunc
	// refragment: frames may be cut into pieces (no extension, or only
	// ones whose semantics allow it, RFC 6455 §5.4).
	refragment bool
	lastData   atomic.Int64 // unix nanos of the last data frame either way
	endOnce    sync.Once
	result     relayResult
	mu         sync.Mutex
	keepalive  keepalive
	// pumps counts the directions still relaying; onEnd runs when none
	// is left, and stopShutdown then stops the watch of the server's
	// context.
	pumps        atomic.Int32
	onEnd        func(relayResult)
	stopShutdown func() bool
	// poller holds the directions parked while idle (the Server's).
	poller *ws.Poller
}

func newToken() []byte {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return []byte("wssproxy-keepalive-" + hex.EncodeToString(b[:]))
}

// bind gives the pair its context, adopted by both legs: the relay's
// reads and writes pass it without a watch per call, and without a watch
// per leg either (ws.Conn.AdoptContext): the pair ends it only when both
// legs are closed (onEnd), or through abort, which closes them itself.
// It runs before the pair is visible to other goroutines.
func (p *pair) bind(ctx context.Context) {
	p.ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	_ = p.client.conn.AdoptContext(p.ctx)
	_ = p.upstream.conn.AdoptContext(p.ctx)
	p.refragment = refragmentable(p.upstream.conn.Extensions())
}

// abort ends the pair's context and closes both legs at once.
func (p *pair) abort() {
	p.cancel()
	p.client.conn.Abort()
	p.upstream.conn.Abort()
}

// start relays frames both ways, one goroutine per direction, and
// returns at once; when both legs are closed, onEnd gets how the
// connection ended (on the goroutine of the last pump). ctx ending closes
// both legs with 1001. The goroutine that ran the handshakes is not
// kept: its stack, grown by TLS, goes back to the runtime.
func (p *pair) start(ctx context.Context, onEnd func(relayResult)) {
	p.lastData.Store(time.Now().UnixNano())
	p.onEnd = onEnd
	p.pumps.Store(2)
	p.stopShutdown = context.AfterFunc(ctx, func() { p.shutdown(ws.StatusGoingAway, "proxy shutting down") })
	p.startKeepalive()
	go p.pump(p.upstream, p.client)
	go p.pump(p.client, p.upstream)
}

// pumpEnded is called by each pump as it ends; the last one ends the
// relay.
func (p *pair) pumpEnded() {
	if p.pumps.Add(-1) > 0 {
		return
	}
	p.stopShutdown()
	p.stopKeepalive()
	p.mu.Lock()
	r := p.result
	p.mu.Unlock()
	r.clientCode, r.clientReason = p.client.conn.CloseStatus()
	r.upstreamCode, r.upstreamReason = p.upstream.conn.CloseStatus()
	p.onEnd(r)
}

// refragmentable reports whether the negotiated extensions let an
// intermediary change a message's fragmentation (RFC 6455 §5.4): none, or
// permessage-deflate only (RFC 7692 marks a message on its first frame).
func refragmentable(extensions string) bool {
	for ext := range strings.SplitSeq(extensions, ",") {
		name, _, _ := strings.Cut(ext, ";")
		if name = strings.TrimSpace(name); name != "" && !strings.EqualFold(name, "permessage-deflate") {
			return false
		}
	}
	return true
}

// end records who ended the connection first and why.
func (p *pair) end(initiator, cause string) {
	p.endOnce.Do(func() {
		p.mu.Lock()
		p.result.initiator, p.result.cause = initiator, cause
		p.mu.Unlock()
	})
}

// shutdown starts closing both legs with code (1001 on drain, 1012 on
// restart); the pumps relay what is still in flight and end the relay.
func (p *pair) shutdown(code ws.StatusCode, reason string) {
	p.end("proxy", reason)
	// The pumps keep relaying what is in flight and finish each handshake.
	p.closeLeg(p.client, code, reason)
	p.closeLeg(p.upstream, code, reason)
}

// closeLeg starts closing l with code and reason, or, if l's peer broke
// the protocol, with the code that error deserves (the close frame then
// goes out and the connection ends at once).
func (p *pair) closeLeg(l *leg, code ws.StatusCode, reason string) {
	if pe := l.failed.Load(); pe != nil {
		// Nothing more is read from a failed leg: close frame, then TCP
		// close (RFC 6455 §7.1.7).
		_ = l.conn.StartClose(pe.Code, ws.TruncateUTF8(pe.Msg, ws.MaxCloseReason))
		l.conn.Abort()
		return
	}
	_ = l.conn.StartClose(code, ws.TruncateUTF8(reason, ws.MaxCloseReason))
}

// pump relays frames from src to dst until src ends, then carries the end
// over to dst (RFC 6455 §7 semantics, end to end). When no frame comes
// for opts.parkAfter, src is parked on the server's Poller and the
// goroutine ends: an idle direction holds no goroutine, stack or buffer
// until src has something to read (or is closed), when a new pump
// goroutine takes over.
func (p *pair) pump(src, dst *leg) {
	var ctrl [ws.MaxControlPayload]byte
	for {
		h, r, err := src.conn.NextFrameWithin(p.ctx, p.opts.parkAfter)
		if err == ws.ErrIdle {
			// Counted before ParkRead: resume may run before it returns.
			src.parked.Inc()
			if src.conn.ParkRead(p.poller, func() { src.parked.Dec(); p.pump(src, dst) }) == nil {
				return
			}
			src.parked.Dec()
			// Not parkable (not a TCP socket, or no epoll): wait here.
			h, r, err = src.conn.NextFrame(p.ctx)
		}
		if err != nil {
			p.finish(src, dst, err)
			p.pumpEnded()
			return
		}
		if h.OpCode == ws.OpClose {
			continue // handled by ws: the error after it carries the status
		}
		if pe := src.rate.take(h, &p.opts); pe != nil {
			p.finish(src, dst, pe)
			p.pumpEnded()
			return
		}
		if h.OpCode.IsControl() {
			n, _ := io.ReadFull(r, ctrl[:h.Length])
			payload := ctrl[:n]
			// A failed write means dst is closed or failed (its own pump
			// reports that): keep reading src until its close arrives.
			if !(h.OpCode == ws.OpPong && src.ownPong(payload)) && dst.conn.WriteFrame(p.ctx, h, payload) == nil {
				src.count(h)
			}
		} else {
			p.lastData.Store(time.Now().UnixNano())
			if err := p.forward(src, dst, h, r); err != nil {
				p.finish(src, dst, err)
				p.pumpEnded()
				return
			}
		}
		// Data frames are written without a flush (the legs defer it):
		// frames that arrived together leave together, in one write. The
		// flush comes once no further frame is at hand, whatever the last
		// frame was (a pong answering the proxy's own ping is consumed,
		// and data written before it must not wait for the next frame).
		if !src.conn.FrameBuffered() {
			_ = dst.conn.Flush(p.ctx)
		}
	}
}

// rateWindow counts a leg's frames per one-second window.
type rateWindow struct {
	start         int64 // unix nanos
	frames, ctrls int
}

// tinyFrame is the payload size under which a data frame counts towards
// the tiny-frame rate: such frames cost the relay far more per byte than
// their payload is worth.
const tinyFrame = 16

// take counts a frame and returns a 1008 error when the leg exceeds a
// rate limit: a ping flood, or a flood of tiny frames.
func (w *rateWindow) take(h ws.Header, o *relayOptions) *ws.ProtocolError {
	if o.maxTinyFrameRate <= 0 && o.maxControlRate <= 0 {
		return nil
	}
	now := time.Now().UnixNano()
	if now-w.start >= int64(time.Second) {
		w.start, w.frames, w.ctrls = now, 0, 0
	}
	if h.OpCode.IsControl() {
		if w.ctrls++; o.maxControlRate > 0 && w.ctrls > o.maxControlRate {
			return &ws.ProtocolError{Code: ws.StatusPolicyViolation, Msg: "ping flood: more than " + strconv.Itoa(o.maxControlRate) + " control frames a second"}
		}
		return nil
	}
	if h.Length >= tinyFrame {
		return nil
	}
	if w.frames++; o.maxTinyFrameRate > 0 && w.frames > o.maxTinyFrameRate {
		return &ws.ProtocolError{Code: ws.StatusPolicyViolation, Msg: "frame flood: more than " + strconv.Itoa(o.maxTinyFrameRate) + " frames under 16 bytes a second"}
	}
	return nil
}

// count records a frame relayed from l's peer.
func (l *leg) count(h ws.Header) {
	l.stats.frames.Add(1)
	l.stats.bytes.Add(h.Length)
	l.bytesSent.Add(float64(h.Length))
	if h.Fin && h.OpCode.IsData() {
		l.stats.messages.Add(1)
		l.messagesSent.Inc()
	}
}

// relayPieceSize bounds the buffer a relayed frame borrows while it
// moves: a frame is forwarded in pieces of at most this size (or the
// route's outgoing frame size, if smaller). With its header a piece fills
// the leg's 32 KiB write buffer exactly: one write per piece.
const relayPieceSize = ws.DefaultWriteBufferSize - ws.MaxHeaderSize

// pieces lends the buffers of frames in transit; an idle connection holds
// none.
var pieces = sync.Pool{New: func() any { b := make([]byte, relayPieceSize); return &b }}

// forward relays one data frame from src to dst and returns src's read
// error, if any (dst's failures are its own pump's to report: the rest of
// the frame is still read from src and dropped).
//
// A piece is read whole before it is written, so dst never holds a
// half-written frame: if src stalls or fails mid-frame, dst can still be
// sent a close frame. Each piece goes out as its own frame: the first
// keeps the opcode and reserved bits (an extension marks a message on its
// first frame), the last keeps FIN, the others are continuations. When
// the negotiated extensions forbid refragmenting, the frame is streamed
// as it is, and a source failing mid-frame aborts dst.
func (p *pair) forward(src, dst *leg, h ws.Header, r io.Reader) error {
	if !p.refragment {
		return p.stream(src, dst, h, r)
	}
	bp := pieces.Get().(*[]byte)
	defer pieces.Put(bp)
	buf := (*bp)[:min(int64(len(*bp)), p.opts.outgoingFrameSize)]
	dstOK := true
	for left, first := h.Length, true; first || left > 0; first = false {
		n := min(left, int64(len(buf)))
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			return err
		}
		left -= n
		piece := h
		piece.Length, piece.Fin = n, h.Fin && left == 0
		if !first {
			piece.OpCode, piece.Rsv = ws.OpContinuation, 0
		}
		if dstOK && dst.conn.WriteFrame(p.ctx, piece, buf[:n]) != nil {
			dstOK = false
		}
	}
	if dstOK {
		src.count(h)
	}
	return nil
}

// stream relays a frame whole, its boundaries kept (an extension the
// proxy does not know is negotiated): the payload streams from src to dst
// (ws.Conn.WriteFrameFrom), so a src that stalls or fails mid-frame aborts
// dst, which cannot be sent a close frame in the middle of a frame.
func (p *pair) stream(src, dst *leg, h ws.Header, r io.Reader) error {
	if err := dst.conn.WriteFrameFrom(p.ctx, h, r); err != nil {
		// Drain what is left of the frame so src's state stays in step
		// (a read error is src's own end).
		if _, rerr := io.Copy(io.Discard, r); rerr != nil {
			return rerr
		}
		return nil
	}
	src.count(h)
	return nil
}

// finish carries the end of src over to dst.
func (p *pair) finish(src, dst *leg, err error) {
	var ce *ws.CloseError
	var pe *ws.ProtocolError
	switch {
	case errors.As(err, &pe):
		// src broke the protocol, exceeded a limit or stalled mid-frame.
		// As src's peer would have done had it seen the bad frame
		// itself, dst is closed first and what dst still sends reaches
		// src; src is then closed with pe.Code (closeLeg), at the latest
		// after dst's close timeout.
		src.failed.Store(pe)
		p.end(src.name, src.name+" leg failed: "+pe.Error())
		code, reason := ws.StatusGoingAway, src.name+" connection failed"
		if src.name == "upstream" {
			code, reason = ws.StatusBadGateway, "upstream failed: "+pe.Msg
		}
		p.closeLeg(dst, code, reason)
	case errors.As(err, &ce) && ce.Code != ws.StatusAbnormalClosure:
		// A close frame: relay code and reason (1005 goes out without status).
		p.end(src.name, src.name+" closed with "+ce.Code.String())
		p.closeLeg(dst, ce.Code, ce.Reason)
	default:
		// Lost without a close frame, or closed locally.
		p.end(src.name, src.name+" connection lost")
		code, reason := ws.StatusGoingAway, "client connection lost"
		if src.name == "upstream" {
			code, reason = ws.StatusBadGateway, "upstream connection lost"
		}
		p.closeLeg(dst, code, reason)
	}
}
