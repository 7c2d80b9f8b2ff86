package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/wssproxy/wssproxy/ws"
)

// idleBufSize is the client's buffer size for idle connections: the
// client's own memory, kept small so that 9,000 fit beside the target.
const idleBufSize = 2048

// idleMsgSize is the size of the one message each idle connection echoes
// after the measurement, to prove it was really proxied.
const idleMsgSize = 32

// idleConn is one open connection that does nothing until checked. Its
// reader goroutine keeps reading (so that the target's keepalive pings are
// answered) and checks each message against the one announced on want.
type idleConn struct {
	c    *ws.Conn
	p    *payload
	want chan []byte // the message just sent, announced before sending
	got  chan error  // the check of its echo
	done chan struct{}
}

func (ic *idleConn) read(ctx context.Context) {
	defer close(ic.done)
	buf := make([]byte, idleMsgSize+1)
	for {
		typ, n, err := readMessage(ctx, ic.c, buf)
		if err != nil {
			return
		}
		var res error
		select {
		case want := <-ic.want:
			res = checkEcho(typ, buf[:n], want)
		default:
			res = fmt.Errorf("%w: a message arrived that nobody sent", errCorrupt)
		}
		select {
		case ic.got <- res:
		default: // a result nobody collected is pending: the check already failed
		}
		if res != nil {
			return
		}
	}
}

// idleSet is a group of open idle connections.
type idleSet struct {
	conns  []*idleConn
	cancel context.CancelFunc
}

// openIdle opens n idle connections, at most par at a time, each with its
// reader goroutine. On error the ones opened are closed.
func (r *runner) openIdle(ctx context.Context, n, par int) (*idleSet, string, error) {
	ictx, cancel := context.WithCancel(ctx)
	set := &idleSet{conns: make([]*idleConn, n), cancel: cancel}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		tlsInfo  string
	)
	next := make(chan int)
	for range max(1, par) {
		wg.Go(func() {
			for i := range next {
				c, err := r.cl.open(ictx, idleBufSize)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("opening idle connection %d of %d: %w", i+1, n, err)
						cancel()
					}
					mu.Unlock()
					continue
				}
				ic := &idleConn{c: c, p: newPayload(uint64(i)+1, idleMsgSize), want: make(chan []byte, 1), got: make(chan error, 1), done: make(chan struct{})}
				mu.Lock()
				if tlsInfo == "" {
					tlsInfo = tlsSummary(c)
				}
				mu.Unlock()
				set.conns[i] = ic
				go ic.read(ictx)
			}
		})
	}
	for i := range n {
		if ictx.Err() != nil {
			break
		}
		select {
		case next <- i:
		case <-ictx.Done():
		}
		if i > 0 && i%1000 == 0 {
			r.progressf("  %d connections open", i)
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = fmt.Errorf("opening idle connections: %w", ctx.Err())
	}
	if firstErr != nil {
		set.close()
		return nil, "", firstErr
	}
	return set, tlsInfo, nil
}

// verify makes every connection echo one message, at most par at a time,
// each within timeout: all must come back intact.
func (s *idleSet) verify(ctx context.Context, par int, timeout time.Duration) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		bad  int
	)
	next := make(chan *idleConn)
	for range max(1, par) {
		wg.Go(func() {
			for ic := range next {
				if err := ic.check(ctx, timeout); err != nil {
					mu.Lock()
					bad++
					if len(errs) < 3 {
						errs = append(errs, err)
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, ic := range s.conns {
		next <- ic
	}
	close(next)
	wg.Wait()
	if bad > 0 {
		return fmt.Errorf("%d of %d idle connections failed their echo check: %w", bad, len(s.conns), errors.Join(errs...))
	}
	return nil
}

func (ic *idleConn) check(ctx context.Context, timeout time.Duration) error {
	msg := append([]byte(nil), ic.p.next()...)
	ic.want <- msg
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := ic.c.WriteMessage(wctx, ws.MessageBinary, msg); err != nil {
		return fmt.Errorf("load: sending: %w", err)
	}
	select {
	case err := <-ic.got:
		return err
	case <-ic.done:
		return errors.New("load: connection closed before its echo")
	case <-wctx.Done():
		return fmt.Errorf("load: no echo within %v", timeout)
	}
}

// close aborts every connection and waits for the readers.
func (s *idleSet) close() {
	s.cancel()
	for _, ic := range s.conns {
		if ic == nil {
			continue
		}
		ic.c.Abort()
		<-ic.done
	}
}

// idle opens the idle connections, measures the target's memory, checks
// every connection and closes them.
func (r *runner) idle(ctx context.Context) (*Result, error) {
	return r.withIdle(ctx, "idle", nil)
}

// withIdle runs scenario: it opens the idle connections and measures the
// target (openAndMeasure), runs beside, when not nil, while they stay
// open, then checks every idle connection's echo and closes them.
func (r *runner) withIdle(ctx context.Context, scenario string, beside func(res *Result) error) (*Result, error) {
	res := &Result{Scenario: scenario, Conns: r.cfg.idleConns}
	set, err := r.openAndMeasure(ctx, res)
	if err != nil {
		return nil, err
	}
	defer set.close()
	if beside != nil {
		if err := beside(res); err != nil {
			return nil, err
		}
	}
	r.progressf("  checking every idle connection's echo")
	if err := set.verify(ctx, r.cfg.openConcurrency, 30*time.Second); err != nil {
		return nil, err
	}
	return res, nil
}

// openAndMeasure samples the target, opens the idle connections, lets
// them settle and samples again, filling res's idle figures; it fetches
// the heap profile if asked.
func (r *runner) openAndMeasure(ctx context.Context, res *Result) (*idleSet, error) {
	before, err := r.smp.sample()
	if err != nil {
		return nil, err
	}
	r.progressf("  opening %d idle connections", r.cfg.idleConns)
	t0 := time.Now()
	set, tlsInfo, err := r.openIdle(ctx, r.cfg.idleConns, r.cfg.openConcurrency)
	if err != nil {
		return nil, err
	}
	res.OpenPerSec = float64(r.cfg.idleConns) / time.Since(t0).Seconds()
	res.TLS = tlsInfo
	r.progressf("  %d open in %v; settling %v", r.cfg.idleConns, time.Since(t0).Round(time.Millisecond), r.cfg.settle)
	if err := r.measureSettled(ctx, res, before); err != nil {
		set.close()
		return nil, err
	}
	if len(r.cfg.profileURLs) > 0 {
		files, err := fetchProfiles(ctx, r.cfg.profileURLs, r.cfg.profileDir)
		if err != nil {
			set.close()
			return nil, err
		}
		r.progressf("  profiles written: %v", files)
	}
	return set, nil
}

// measureSettled fills res's idle figures: memory from before (no
// connection open) to the end of the settle time, CPU over its second
// half (the first lets the target finish its handshakes' work).
func (r *runner) measureSettled(ctx context.Context, res *Result, before procSample) error {
	mid, err := r.sampleAfter(ctx, r.cfg.settle/2)
	if err != nil {
		return err
	}
	tm := time.Now()
	after, err := r.sampleAfter(ctx, r.cfg.settle-r.cfg.settle/2)
	if err != nil {
		return err
	}
	win := time.Since(tm).Seconds()
	res.Seconds = win
	res.TargetProcs = after.procs
	res.CPUSeconds = after.cpuSeconds - mid.cpuSeconds
	res.RSSBeforeKiB, res.RSSOpenKiB = before.rssKiB, after.rssKiB
	if r.smp.enabled() && r.cfg.idleConns > 0 {
		res.IdleKiBPerConn = float64(after.rssKiB-before.rssKiB) / float64(r.cfg.idleConns)
		res.IdleCPUMicrosPerConnSec = res.CPUSeconds * 1e6 / float64(r.cfg.idleConns) / win
	}
	return nil
}

// sampleAfter waits d, then samples the target.
func (r *runner) sampleAfter(ctx context.Context, d time.Duration) (procSample, error) {
	if err := sleepCtx(ctx, d); err != nil {
		return procSample{}, err
	}
	return r.smp.sample()
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
