package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
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
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		w       window
		wg      sync.WaitGroup
		fail    = newErrOnce()
		lats    = make([][]time.Duration, n)
		tlsOnce sync.Once
		cycles  atomic.Int64
	)
	for i := range n {
		wg.Go(func() {
			p := newPayload(uint64(2_000_000+i), setupMsgSize)
			for !w.stopping() {
				m := w.measuring()
				t := time.Now()
				c, err := r.cl.open(wctx, 4096)
				if err != nil {
					if wctx.Err() == nil {
						fail.set(fmt.Errorf("setup worker %d: %w", i+1, err))
					}
					return
				}
				hs := time.Since(t)
				tlsOnce.Do(func() { res.TLS = tlsSummary(c) })
				err = roundTrip(wctx, c, p)
				if err == nil {
					err = c.Close(ws.StatusNormalClosure, "")
				} else {
					c.Abort()
				}
				if err != nil {
					if wctx.Err() == nil {
						fail.set(fmt.Errorf("setup worker %d: %w", i+1, err))
					}
					return
				}
				cycles.Add(1)
				if m && w.measuring() {
					lats[i] = append(lats[i], hs)
					w.count.Add(1)
				}
			}
		})
	}
	s0, s1, secs, err := r.measure(ctx, &w, fail.failed)
	if derr := drainWorkers(&wg, cancel, "connection cycles"); err == nil {
		err = derr
	}
	if fail.err != nil {
		return nil, fail.err
	}
	if err != nil {
		return nil, err
	}
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	res.setLatency(all)
	res.Seconds = secs
	res.Handshakes = w.count.Load()
	res.HandshakesPerSec = float64(res.Handshakes) / secs
	res.TargetProcs = s1.procs
	res.CPUSeconds = s1.cpuSeconds - s0.cpuSeconds
	if r.smp.enabled() && res.Handshakes > 0 {
		res.CPUMillisPerConn = res.CPUSeconds * 1e3 / float64(res.Handshakes)
	}
	return res, nil
}
