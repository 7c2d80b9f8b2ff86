package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Keeping the state current: the background loop reads everything under
// PREFIX/trust/, watches it from that revision on, probes etcd every
// ProbeInterval, and sends the queued writes; when etcd fails it marks
// the Store degraded and tries again with a backoff.

const (
	pageSize   = 500 // keys per read of the whole state
	maxTxnOps  = 64  // queued writes per transaction (etcd allows 128)
	minBackoff = 100 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// errResync ends a watch that must start again from a fresh read (the
// revision it resumes from was compacted): not a sign etcd is away.
var errResync = errors.New("etcdstore: watch ended; reading the state again")

// permanent reports whether err is etcd refusing a request (credentials,
// permissions, a request too large), which retrying cannot fix, rather
// than etcd being unreachable.
func permanent(err error) bool {
	code := status.Code(err)
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		code = ee.Code()
	}
	switch code {
	case codes.InvalidArgument, codes.PermissionDenied, codes.Unauthenticated, codes.FailedPrecondition, codes.OutOfRange:
		return true
	}
	return false
}

// run is the background loop; it ends when ctx does.
func (s *Store) run(ctx context.Context) {
	defer close(s.done)
	backoff := minBackoff
	s.mu.Lock()
	synced := !s.degraded
	s.mu.Unlock()
	for {
		if !synced {
			if err := s.reconnect(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				s.mu.Lock()
				s.setDegraded(err)
				s.mu.Unlock()
				if !sleep(ctx, backoff) {
					return
				}
				backoff = min(2*backoff, maxBackoff)
				continue
			}
			backoff = minBackoff
		}
		synced = false
		err := s.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if !errors.Is(err, errResync) {
			s.log.Debug().Err(err).Msg("etcdstore: watch session ended")
		}
	}
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// reconnect creates the client if needed and reads the whole state.
func (s *Store) reconnect(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, s.opts.DialTimeout)
	defer cancel()
	if err := s.connect(cctx); err != nil {
		return err
	}
	return s.resync(ctx)
}

// resync reads every key under PREFIX/trust/ at one revision (each page
// within OpTimeout) and replaces the remote state with it.
func (s *Store) resync(ctx context.Context) error {
	c := s.client.Load()
	end := clientv3.GetPrefixRangeEnd(s.base)
	from := s.base
	var rev int64
	remote := make(map[string][]byte)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(pageSize)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		octx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
		resp, err := c.Get(octx, from, opts...)
		cancel()
		if err != nil {
			return fmt.Errorf("etcdstore: reading %s: %w", s.base, err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			remote[string(kv.Key[len(s.base):])] = kv.Value
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	s.mu.Lock()
	s.remote, s.rev = remote, rev
	s.dropLanded(rev)
	s.refreshAll()
	s.setConnected()
	s.dirty = true
	s.publish()
	s.mu.Unlock()
	s.saveCache()
	return nil
}

// session watches PREFIX/trust/ from the revision read, probes etcd and
// sends queued writes, until one of them fails or ctx ends.
func (s *Store) session(ctx context.Context) error {
	c := s.client.Load()
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	s.mu.Lock()
	from := s.rev + 1
	s.mu.Unlock()
	// Watch blocks until its stream is up (or wctx ends): it runs aside,
	// so that probes go on while etcd does not answer.
	ready := make(chan clientv3.WatchChan, 1)
	go func() { ready <- c.Watch(wctx, s.base, clientv3.WithPrefix(), clientv3.WithRev(from)) }()
	var wch clientv3.WatchChan // nil until the watch is up
	defer func() {
		cancel()
		if wch == nil {
			<-ready
		}
	}()
	probe := time.NewTicker(s.opts.ProbeInterval)
	defer probe.Stop()
	if err := s.flush(ctx); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case wch = <-ready:
		case resp, ok := <-wch:
			if !ok {
				return errResync
			}
			if resp.CompactRevision != 0 {
				return fmt.Errorf("%w (revision %d compacted)", errResync, resp.CompactRevision)
			}
			if err := resp.Err(); err != nil {
				return fmt.Errorf("%w: %w", errResync, err)
			}
			s.applyWatch(&resp)
		case <-probe.C:
			if err := s.probe(ctx); err != nil {
				return err
			}
			s.mu.Lock()
			landed, dirty := len(s.ops) > s.pendingCount(), s.dirty
			s.mu.Unlock()
			if landed && wch != nil {
				// A delete of a missing key makes no event: a progress
				// notification tells the watch's revision anyway.
				pctx, pcancel := context.WithTimeout(wctx, s.opts.OpTimeout)
				_ = c.RequestProgress(pctx)
				pcancel()
			}
			if dirty {
				s.saveCache()
			}
			if err := s.flush(ctx); err != nil {
				return err
			}
		case <-s.kick:
			if err := s.flush(ctx); err != nil {
				return err
			}
		}
	}
}

// probe makes a quorum read within OpTimeout; a failure marks the Store
// degraded.
func (s *Store) probe(ctx context.Context) error {
	octx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
	defer cancel()
	_, err := s.client.Load().Get(octx, s.base, clientv3.WithCountOnly())
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err == nil:
		s.setConnected() // after a write that timed out, say
	case ctx.Err() == nil:
		err = fmt.Errorf("etcdstore: etcd does not answer: %w", err)
		s.setDegraded(err)
	}
	return err
}

// applyWatch applies one watch response to the remote state.
func (s *Store) applyWatch(resp *clientv3.WatchResponse) {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for _, ev := range resp.Events {
		key := string(ev.Kv.Key[len(s.base):])
		if ev.Type == clientv3.EventTypePut {
			s.remote[key] = ev.Kv.Value
		} else {
			delete(s.remote, key)
		}
		s.rev = max(s.rev, ev.Kv.ModRevision)
		if s.refresh(key) {
			changed = true
		}
		s.dirty = true
	}
	if resp.IsProgressNotify() {
		s.rev = max(s.rev, resp.Header.Revision)
	}
	if s.dropLanded(s.rev) {
		changed = true
	}
	if changed {
		s.publish()
	}
}

// flush sends the queued writes in order, in transactions of up to
// maxTxnOps, each within OpTimeout. A write etcd refuses (permissions, too
// large) is dropped and logged with its key; a failure to reach etcd
// marks the Store degraded and keeps the writes.
func (s *Store) flush(ctx context.Context) error {
	limit := maxTxnOps
	for {
		s.mu.Lock()
		var batch []*op
		for _, o := range s.ops {
			if o.landed == 0 && len(batch) < limit {
				batch = append(batch, o)
			}
		}
		s.mu.Unlock()
		if len(batch) == 0 {
			return nil
		}
		ops := make([]clientv3.Op, len(batch))
		for i, o := range batch {
			if o.value == nil {
				ops[i] = clientv3.OpDelete(s.base + o.key)
			} else {
				ops[i] = clientv3.OpPut(s.base+o.key, string(o.value))
			}
		}
		octx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
		resp, err := s.client.Load().Txn(octx).Then(ops...).Commit()
		cancel()
		switch {
		case err == nil:
			s.landed(batch, resp.Header.Revision)
			limit = maxTxnOps
		case ctx.Err() != nil:
			return ctx.Err()
		case permanent(err) && len(batch) > 1:
			limit = 1 // find the write etcd refuses
		case permanent(err):
			s.refused(batch[0], err)
		default:
			err = fmt.Errorf("etcdstore: sending %d queued writes: %w", len(batch), err)
			s.mu.Lock()
			s.setDegraded(err)
			s.mu.Unlock()
			return err
		}
	}
}

// landed records that the ops landed at revision rev.
func (s *Store) landed(batch []*op, rev int64) {
	s.mu.Lock()
	for _, o := range batch {
		if slices.Contains(s.ops, o) {
			o.landed = rev
		}
	}
	changed := s.dropLanded(s.rev)
	if changed {
		s.publish()
	}
	s.setConnected()
	s.dirty = true
	s.mu.Unlock()
	s.saveCache()
}

// refused drops a queued write etcd refuses, loudly.
func (s *Store) refused(o *op, err error) {
	s.mu.Lock()
	s.ops = slices.DeleteFunc(s.ops, func(x *op) bool { return x == o })
	s.dropped++
	if s.refresh(o.key) {
		s.publish()
	}
	s.dirty = true
	s.mu.Unlock()
	s.log.Error().Str("key", s.base+o.key).Str("reason", err.Error()).
		Msg("etcdstore: etcd refused a queued write; it is dropped")
	s.saveCache()
}
