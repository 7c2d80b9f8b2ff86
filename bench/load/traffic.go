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
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		w     window
		wg    sync.WaitGroup
		fail  = newErrOnce()
		lats  = make([][]time.Duration, n)
		bytes atomic.Int64
	)
	for i, c := range conns {
		p := newPayload(uint64(1_000_000+i), size)
		wg.Go(func() {
			for !w.stopping() {
				m := w.measuring()
				t := time.Now()
				if err := roundTrip(wctx, c, p); err != nil {
					if wctx.Err() == nil {
						fail.set(fmt.Errorf("connection %d: %w", i+1, err))
					}
					return
				}
				if m && w.measuring() {
					lats[i] = append(lats[i], time.Since(t))
					w.count.Add(1)
					bytes.Add(int64(size))
				}
			}
		})
	}
	s0, s1, secs, err := r.measure(ctx, &w, fail.failed)
	if derr := drainWorkers(&wg, cancel, "round trips"); err == nil {
		err = derr
	}
	if fail.err != nil {
		return fail.err
	}
	if err != nil {
		return err
	}
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	res.setLatency(all)
	res.Seconds = secs
	res.Messages = w.count.Load()
	res.PayloadBytes = bytes.Load()
	res.MsgsPerSec = float64(res.Messages) / secs
	res.MBPerSec = float64(res.PayloadBytes) / 1e6 / secs
	res.TargetProcs = s1.procs
	res.CPUSeconds = s1.cpuSeconds - s0.cpuSeconds
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
	res := &Result{Scenario: "mixed", Conns: r.cfg.idleConns}
	set, err := r.openAndMeasure(ctx, res)
	if err != nil {
		return nil, err
	}
	defer set.close()
	r.progressf("  running %d active connections beside them for %v", r.cfg.smallConns, r.cfg.duration)
	if err := r.echoLoad(ctx, res, r.cfg.smallConns, r.cfg.smallSize, 4096); err != nil {
		return nil, err
	}
	res.CPUSecPerGB, res.MBPerSec = 0, 0
	r.progressf("  checking every idle connection's echo")
	if err := set.verify(ctx, r.cfg.openConcurrency, 30*time.Second); err != nil {
		return nil, err
	}
	return res, nil
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
