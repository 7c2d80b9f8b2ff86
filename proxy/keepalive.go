package proxy

import (
	"context"
	"sync"
	"time"

	"github.com/wssproxy/wssproxy/ws"
)

// keepalive is a pair's timer: keepalive pings on each leg with the
// leg's own token, the pong timeout and the idle timeout. It is one
// time.AfterFunc per connection, not a goroutine: nothing waits while
// the connection is idle.
type keepalive struct {
	mu       sync.Mutex
	timer    *time.Timer
	stopped  bool
	running  sync.WaitGroup // a tick in progress
	interval time.Duration
	lastPing time.Time
}

// startKeepalive arms the pair's timer if the route asks for pings, a
// pong timeout or an idle timeout.
func (p *pair) startKeepalive() {
	o := p.opts
	// Check often enough for the shortest of the three periods.
	var interval time.Duration
	for _, d := range []time.Duration{o.pingInterval, o.pongTimeout / 2, o.idleTimeout / 4} {
		if d > 0 && (interval == 0 || d < interval) {
			interval = max(d, 10*time.Millisecond)
		}
	}
	if interval == 0 {
		return
	}
	k := &p.keepalive
	k.interval = interval
	k.lastPing = time.Now()
	k.mu.Lock()
	k.timer = time.AfterFunc(interval, p.tick)
	k.mu.Unlock()
}

// stopKeepalive stops the timer and waits for a tick in progress.
func (p *pair) stopKeepalive() {
	k := &p.keepalive
	k.mu.Lock()
	k.stopped = true
	if k.timer != nil {
		k.timer.Stop()
	}
	k.mu.Unlock()
	k.running.Wait()
}

// tick runs on the timer: idle timeout, pong timeouts, then pings. A ping
// waits for the leg's writer at most the pong timeout (or the interval):
// a stalled writer is dropped by its own write timeout, and the ping never
// queues behind it for longer.
func (p *pair) tick() {
	k := &p.keepalive
	k.mu.Lock()
	if k.stopped {
		k.mu.Unlock()
		return
	}
	k.running.Add(1)
	k.mu.Unlock()
	defer k.running.Done()

	o := p.opts
	now := time.Now()
	if o.idleTimeout > 0 && now.Sub(time.Unix(0, p.lastData.Load())) > o.idleTimeout {
		p.shutdown(ws.StatusGoingAway, "idle timeout")
		return // the close handshakes end the relay; no more ticks
	}
	for _, l := range []*leg{p.client, p.upstream} {
		if since := l.unanswered.Load(); o.pongTimeout > 0 && since != 0 && now.Sub(time.Unix(0, since)) > o.pongTimeout {
			p.end(l.name, l.name+" did not answer keepalive ping")
			l.conn.Abort() // its pump reports the loss to the other leg
		}
	}
	if o.pingInterval > 0 && now.Sub(k.lastPing) >= o.pingInterval {
		k.lastPing = now
		wait := o.pongTimeout
		if wait <= 0 {
			wait = o.pingInterval
		}
		for _, l := range []*leg{p.client, p.upstream} {
			l.pingSent.Store(now.UnixNano())
			l.unanswered.CompareAndSwap(0, now.UnixNano())
			ctx, cancel := context.WithTimeout(p.ctx, wait)
			_ = l.conn.Ping(ctx, l.token)
			cancel()
		}
	}
	k.mu.Lock()
	if !k.stopped {
		k.timer.Reset(k.interval)
	}
	k.mu.Unlock()
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
