package main

import (
	"context"
	"sync"
	"time"

	"github.com/wssproxy/wssproxy/ws"
)

// setupMsgSize is the one message each setup cycle echoes, proving the
// upstream leg was really dialled.
const setupMsgSize = 16

// setup runs connect/echo/close cycles on cfg.setupConns goroutines: a
// full TLS handshake (no resumption), the upgrade (the target dials the
// upstream), one echoed message, and the closing handshake.
func (r *runner) setup(ctx context.Context) (*Result, error) {
	n := r.cfg.setupConns
	res := &Result{Scenario: "setup", Conns: n, ActiveConns: n}
	ps := make([]*payload, n)
	for i := range ps {
		ps[i] = newPayload(uint64(2_000_000+i), setupMsgSize)
	}
	var tlsOnce sync.Once
	// A cycle's latency is its handshake's.
	mw, err := r.runMeasured(ctx, n, "setup worker", "connection cycles", func(ctx context.Context, i int) (time.Duration, error) {
		t := time.Now()
		c, err := r.cl.open(ctx, 4096)
		if err != nil {
			return 0, err
		}
		hs := time.Since(t)
		tlsOnce.Do(func() { res.TLS = tlsSummary(c) })
		if err := roundTrip(ctx, c, ps[i]); err != nil {
			c.Abort()
			return 0, err
		}
		return hs, c.Close(ws.StatusNormalClosure, "")
	})
	if err != nil {
		return nil, err
	}
	mw.fill(res)
	res.Handshakes = mw.count
	res.HandshakesPerSec = float64(res.Handshakes) / mw.secs
	if r.smp.enabled() && res.Handshakes > 0 {
		res.CPUMillisPerConn = res.CPUSeconds * 1e3 / float64(res.Handshakes)
	}
	return res, nil
}
