package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

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
	stats      legStats
	// Metric handles, resolved once per connection: what this leg sent
	// (bytes, messages) and its keepalive round trips.
	bytesSent, messagesSent *Counter
	rttSeen                 *Histogram
}

func newLeg(name string, conn *ws.Conn, m *Metrics, route, direction string) *leg {
	return &leg{
		name: name, conn: conn, token: newToken(),
		bytesSent:    m.Bytes.With(route, direction),
		messagesSent: m.Messages.With(route, direction),
		rttSeen:      m.KeepaliveRTT.With(route, name),
	}
}

// relayOptions are a route's frame-level settings.
type relayOptions struct {
	outgoingFrameSize int64
	pingInterval      time.Duration
	pongTimeout       time.Duration
	idleTimeout       time.Duration
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
	lastData         atomic.Int64 // unix nanos of the last data frame either way
	endOnce          sync.Once
	result           relayResult
	mu               sync.Mutex
}

func newToken() []byte {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return []byte("wssproxy-keepalive-" + hex.EncodeToString(b[:]))
}

// run relays frames both ways until both legs are closed, and returns how
// the connection ended. ctx ending closes both legs with 1001.
func (p *pair) run(ctx context.Context) relayResult {
	p.lastData.Store(time.Now().UnixNano())
	var wg sync.WaitGroup
	wg.Go(func() { p.pump(p.client, p.upstream) })
	wg.Go(func() { p.pump(p.upstream, p.client) })
	stop := make(chan struct{})
	var kwg sync.WaitGroup
	kwg.Go(func() { p.keepalive(ctx, stop) })
	wg.Wait()
	close(stop)
	kwg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.result
	r.clientCode, r.clientReason = p.client.conn.CloseStatus()
	r.upstreamCode, r.upstreamReason = p.upstream.conn.CloseStatus()
	return r
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
	_ = p.client.conn.StartClose(code, reason)
	_ = p.upstream.conn.StartClose(code, reason)
}

// pump relays frames from src to dst until src ends, then carries the end
// over to dst (RFC 6455 §7 semantics, end to end).
func (p *pair) pump(src, dst *leg) {
	ctx := context.Background()
	var ctrl [ws.MaxControlPayload]byte
	for {
		h, r, err := src.conn.NextFrame(ctx)
		if err != nil {
			p.finish(src, dst, err)
			return
		}
		if h.OpCode == ws.OpClose {
			continue // handled by ws: the error after it carries the status
		}
		var payload []byte
		if h.OpCode.IsControl() {
			n, _ := io.ReadFull(r, ctrl[:h.Length])
			payload = ctrl[:n]
			if h.OpCode == ws.OpPong && src.ownPong(payload) {
				continue
			}
		} else {
			p.lastData.Store(time.Now().UnixNano())
		}
		if h.OpCode.IsControl() {
			err = dst.conn.WriteFrame(ctx, h, payload)
		} else {
			err = p.forward(dst, h, r)
		}
		if err != nil {
			// dst is closed or failed (its own pump reports that): keep
			// reading src until its close arrives.
			continue
		}
		src.stats.frames.Add(1)
		src.stats.bytes.Add(h.Length)
		src.bytesSent.Add(uint64(h.Length))
		if h.Fin && h.OpCode.IsData() {
			src.stats.messages.Add(1)
			src.messagesSent.Inc()
		}
	}
}

// forward writes one data frame to dst, streamed, split at the outgoing
// frame size. Only the first piece keeps the reserved bits (an extension
// marks a message on its first frame); the last keeps FIN.
func (p *pair) forward(dst *leg, h ws.Header, r io.Reader) error {
	ctx := context.Background()
	max := p.opts.outgoingFrameSize
	if h.Length <= max {
		return dst.conn.WriteFrameFrom(ctx, h, r)
	}
	fin := h.Fin
	for left := h.Length; ; {
		piece := h
		piece.Length = min(left, max)
		left -= piece.Length
		piece.Fin = fin && left == 0
		if err := dst.conn.WriteFrameFrom(ctx, piece, r); err != nil {
			return err
		}
		if left == 0 {
			return nil
		}
		h.OpCode, h.Rsv = ws.OpContinuation, 0
	}
}

// finish carries the end of src over to dst.
func (p *pair) finish(src, dst *leg, err error) {
	var ce *ws.CloseError
	var pe *ws.ProtocolError
	switch {
	case errors.As(err, &pe):
		// src broke the protocol or a limit; it was closed with pe.Code.
		p.end(src.name, src.name+" leg failed: "+pe.Error())
		code, reason := ws.StatusGoingAway, src.name+" connection failed"
		if src.name == "upstream" {
			code, reason = ws.StatusBadGateway, "upstream failed: "+pe.Msg
		}
		_ = dst.conn.StartClose(code, ws.TruncateUTF8(reason, ws.MaxCloseReason))
	case errors.As(err, &ce) && ce.Code != ws.StatusAbnormalClosure:
		// A close frame: relay code and reason (1005 goes out without status).
		p.end(src.name, src.name+" closed with "+ce.Code.String())
		_ = dst.conn.StartClose(ce.Code, ce.Reason)
	default:
		// Lost without a close frame, or closed locally.
		p.end(src.name, src.name+" connection lost")
		code, reason := ws.StatusGoingAway, "client connection lost"
		if src.name == "upstream" {
			code, reason = ws.StatusBadGateway, "upstream connection lost"
		}
		_ = dst.conn.StartClose(code, reason)
	}
}

// ownPong reports whether a pong answers this leg's own keepalive ping,
// recording the round trip; such pongs are consumed, not relayed.
func (l *leg) ownPong(payload []byte) bool {
	if string(payload) != string(l.token) {
		return false
	}
	now := time.Now().UnixNano()
	if sent := l.pingSent.Load(); sent != 0 {
		l.rtt.Store(now - sent)
		l.rttSeen.Observe(time.Duration(now - sent).Seconds())
	}
	l.unanswered.Store(0)
	return true
}

// keepalive pings each leg with its own token every pingInterval, fails a
// leg whose oldest unanswered ping is more than pongTimeout old, and closes
// both legs with 1001 after idleTimeout without data or when ctx ends.
func (p *pair) keepalive(ctx context.Context, stop <-chan struct{}) {
	o := p.opts
	// Check often enough for the shortest of the three periods.
	var interval time.Duration
	for _, d := range []time.Duration{o.pingInterval, o.pongTimeout / 2, o.idleTimeout / 4} {
		if d > 0 && (interval == 0 || d < interval) {
			interval = max(d, 10*time.Millisecond)
		}
	}
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	var lastPing time.Time
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			p.shutdown(ws.StatusGoingAway, "proxy shutting down")
			return
		case now := <-tick:
			if o.idleTimeout > 0 && now.Sub(time.Unix(0, p.lastData.Load())) > o.idleTimeout {
				p.shutdown(ws.StatusGoingAway, "idle timeout")
				return
			}
			for _, l := range []*leg{p.client, p.upstream} {
				if since := l.unanswered.Load(); o.pongTimeout > 0 && since != 0 && now.Sub(time.Unix(0, since)) > o.pongTimeout {
					p.end(l.name, l.name+" did not answer keepalive ping")
					l.conn.Abort() // its pump reports the loss to the other leg
				}
			}
			if o.pingInterval <= 0 || now.Sub(lastPing) < o.pingInterval {
				continue
			}
			lastPing = now
			for _, l := range []*leg{p.client, p.upstream} {
				l.pingSent.Store(now.UnixNano())
				l.unanswered.CompareAndSwap(0, now.UnixNano())
				_ = l.conn.Ping(context.Background(), l.token)
			}
		}
	}
}
