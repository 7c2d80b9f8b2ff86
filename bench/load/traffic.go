package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wssproxy/wssproxy/ws"
)

// window runs work on par goroutines: a warm-up, then a measured window of
// cfg.duration between two samples of the target, then a stop. Each
// worker calls measuring() to learn whether what it is about to do counts.
type window struct {
	phase atomic.Int32 // 0 warm-up, 1 measured, 2 stopping
	count atomic.Int64 // units done while measuring
}

func (w *window) measuring() bool { return w.phase.Load() == 1 }
func (w *window) stopping() bool  { return w.phase.Load() == 2 }

// measure drives the phases and returns the target's figures over the
// window, its length and the units counted in it.
func (r *runner) measure(ctx context.Context, w *window, failed <-chan struct{}) (procSample, procSample, float64, error) {
	defer w.phase.Store(2)
	if err := sleepOrFail(ctx, r.cfg.warmup, failed); err != nil {
		return procSample{}, procSample{}, 0, err
	}
	s0, err := r.smp.sample()
	if err != nil {
		return procSample{}, procSample{}, 0, err
	}
	t0 := time.Now()
	w.phase.Store(1)
	if err := sleepOrFail(ctx, r.cfg.duration, failed); err != nil {
		return procSample{}, procSample{}, 0, err
	}
	w.phase.Store(2)
	s1, err := r.smp.sample()
	if err != nil {
		return procSample{}, procSample{}, 0, err
	}
	return s0, s1, time.Since(t0).Seconds(), nil
}

func sleepOrFail(ctx context.Context, d time.Duration, failed <-chan struct{}) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-failed:
		return nil // the worker's error is reported instead
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errOnce keeps the first error of several workers and signals it.
type errOnce struct {
	once   sync.Once
	err    error
	failed chan struct{}
}

func newErrOnce() *errOnce { return &errOnce{failed: make(chan struct{})} }

func (e *errOnce) set(err error) {
	e.once.Do(func() { e.err = err; close(e.failed) })
}

// measuredWork is what the workers of runMeasured did in the window.
type measuredWork struct {
	lats   []time.Duration // the counted steps' latencies
	count  int64           // how many steps were counted
	s0, s1 procSample      // the target at the window's start and end
	secs   float64         // the window's length
}

// fill sets res's latencies, window and target CPU from mw.
func (mw *measuredWork) fill(res *Result) {
	res.setLatency(mw.lats)
	res.Seconds = mw.secs
	res.TargetProcs = mw.s1.procs
	res.CPUSeconds = mw.s1.cpuSeconds - mw.s0.cpuSeconds
}

// runMeasured runs step in a loop on n workers (i is the worker's index)
// while r.measure times the window; a step counts, with the latency it
// returns, when the window was measuring both before and after it. The
// first failing step ends the run with its error, prefixed by what and
// the worker's number. The workers are then drained (drainWorkers names
// their work drained).
func (r *runner) runMeasured(ctx context.Context, n int, what, drained string, step func(ctx context.Context, i int) (time.Duration, error)) (*measuredWork, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		w    window
		wg   sync.WaitGroup
		fail = newErrOnce()
		lats = make([][]time.Duration, n)
	)
	for i := range n {
		wg.Go(func() {
			for !w.stopping() {
				m := w.measuring()
				lat, err := step(wctx, i)
				if err != nil {
					if wctx.Err() == nil {
						fail.set(fmt.Errorf("%s %d: %w", what, i+1, err))
					}
					return
				}
				if m && w.measuring() {
					lats[i] = append(lats[i], lat)
					w.count.Add(1)
				}
			}
		})
	}
	s0, s1, secs, err := r.measure(ctx, &w, fail.failed)
	if derr := drainWorkers(&wg, cancel, drained); err == nil {
		err = derr
	}
	if fail.err != nil {
		return nil, fail.err
	}
	if err != nil {
		return nil, err
	}
	mw := &measuredWork{count: w.count.Load(), s0: s0, s1: s1, secs: secs}
	for _, l := range lats {
		mw.lats = append(mw.lats, l...)
	}
	return mw, nil
}

// echoLoad keeps n connections each echoing size-byte binary messages, one
// in flight per connection, and measures the target over the window.
func (r *runner) echoLoad(ctx context.Context, res *Result, n, size, bufSize int) error {
	res.ActiveConns, res.MsgSize = n, size
	conns := make([]*ws.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Abort()
		}
	}()
	for i := range n {
		c, err := r.cl.open(ctx, bufSize)
		if err != nil {
			return fmt.Errorf("opening connection %d of %d: %w", i+1, n, err)
		}
		if res.TLS == "" {
			res.TLS = tlsSummary(c)
		}
		conns = append(conns, c)
	}
	ps := make([]*payload, n)
	for i := range ps {
		ps[i] = newPayload(uint64(1_000_000+i), size)
	}
	mw, err := r.runMeasured(ctx, n, "connection", "round trips", func(ctx context.Context, i int) (time.Duration, error) {
		t := time.Now()
		err := roundTrip(ctx, conns[i], ps[i])
		return time.Since(t), err
	})
	if err != nil {
		return err
	}
	mw.fill(res)
	res.Messages = mw.count
	res.PayloadBytes = mw.count * int64(size)
	res.MsgsPerSec = float64(res.Messages) / mw.secs
	res.MBPerSec = float64(res.PayloadBytes) / 1e6 / mw.secs
	if r.smp.enabled() && res.Messages > 0 {
		res.CPUMicrosPerMsg = res.CPUSeconds * 1e6 / float64(res.Messages)
		res.CPUSecPerGB = res.CPUSeconds / (float64(res.PayloadBytes) / 1e9)
	}
	return nil
}

// small: many connections with small messages, one in flight each.
func (r *runner) small(ctx context.Context) (*Result, error) {
	res := &Result{Scenario: "small", Conns: r.cfg.smallConns}
	if err := r.echoLoad(ctx, res, r.cfg.smallConns, r.cfg.smallSize, 4096); err != nil {
		return nil, err
	}
	res.CPUSecPerGB, res.MBPerSec = 0, 0
	return res, nil
}

// bulk: a few connections echoing large messages.
func (r *runner) bulk(ctx context.Context) (*Result, error) {
	res := &Result{Scenario: "bulk", Conns: r.cfg.bulkConns}
	if err := r.echoLoad(ctx, res, r.cfg.bulkConns, r.cfg.bulkSize, 0); err != nil {
		return nil, err
	}
	res.CPUMicrosPerMsg = 0
	return res, nil
}

// mixed: the idle connections stay open while the small scenario runs
// beside them; both sets of figures are reported, and every idle
// connection is checked afterwards.
func (r *runner) mixed(ctx context.Context) (*Result, error) {
	return r.withIdle(ctx, "mixed", func(res *Result) error {
		r.progressf("  running %d active connections beside them for %v", r.cfg.smallConns, r.cfg.duration)
		if err := r.echoLoad(ctx, res, r.cfg.smallConns, r.cfg.smallSize, 4096); err != nil {
			return err
		}
		res.CPUSecPerGB, res.MBPerSec = 0, 0
		return nil
	})
}

// drainWorkers waits for the workers to finish what they have in flight
// after the measured window; a target that stops answering is cut off
// after 30 s by cancelling their context (which closes the connections),
// and the error then names what was still in flight.
func drainWorkers(wg *sync.WaitGroup, cancel context.CancelFunc, what string) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(30 * time.Second):
		cancel()
		<-done
		return fmt.Errorf("load: %s still in flight 30s after the window", what)
	}
}
