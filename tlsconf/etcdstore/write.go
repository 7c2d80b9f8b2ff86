package etcdstore

import (
	"context"
	"fmt"
	"slices"
)

// write puts value under key (relative to PREFIX/trust/), or deletes key
// when value is nil. While etcd is connected and nothing is queued it
// writes through (within OpTimeout); otherwise, or when etcd does not
// answer in time, it queues the write, which readers see at once. It
// reports whether key held a value before (as readers saw it).
func (s *Store) write(ctx context.Context, key string, value []byte) (existed bool, err error) {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return false, ErrClosed
	}
	_, existed = s.effective(key)
	c := s.client.Load()
	if s.degraded || c == nil || s.pendingCount() > 0 {
		err := s.enqueue(key, value)
		s.mu.Unlock()
		return existed, s.queued(err)
	}
	s.mu.Unlock()

	octx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
	defer cancel()
	var rev int64
	if value != nil {
		resp, perr := c.Put(octx, s.base+key, string(value))
		if err = perr; err == nil {
			rev = resp.Header.Revision
		}
	} else {
		resp, derr := c.Delete(octx, s.base+key)
		if err = derr; err == nil {
			rev, existed = resp.Header.Revision, existed || resp.Deleted > 0
		}
	}
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return false, fmt.Errorf("etcdstore: writing %s: %w", s.base+key, ctx.Err())
	case permanent(err):
		return false, fmt.Errorf("etcdstore: etcd refused the write of %s: %w", s.base+key, err)
	case s.closed.Load():
		return false, fmt.Errorf("%w: the write of %s was not confirmed: %w", ErrClosed, s.base+key, err)
	default:
		s.mu.Lock()
		s.setDegraded(fmt.Errorf("etcdstore: writing %s: %w", s.base+key, err))
		qerr := s.enqueue(key, value)
		s.mu.Unlock()
		return existed, s.queued(qerr)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops = append(s.ops, &op{key: key, value: value, landed: rev})
	changed := s.refresh(key)
	if s.dropLanded(s.rev) {
		changed = true
	}
	if changed {
		s.publish()
	}
	s.dirty = true
	return existed, nil
}

// enqueue queues a write, replacing a queued write to the same key.
// Called with s.mu held.
func (s *Store) enqueue(key string, value []byte) error {
	i := slices.IndexFunc(s.ops, func(o *op) bool { return o.landed == 0 && o.key == key })
	if n := s.pendingCount(); i < 0 && n >= s.opts.MaxPendingWrites {
		return fmt.Errorf("%w (%d writes pending); the write of %s is not applied", ErrQueueFull, n, s.base+key)
	}
	if i >= 0 {
		s.ops = slices.Delete(s.ops, i, i+1)
	}
	s.ops = append(s.ops, &op{key: key, value: value})
	if s.refresh(key) {
		s.publish()
	}
	s.dirty = true
	return nil
}

// queued finishes a queued write: the cache file keeps it and the
// background loop is told to send it.
func (s *Store) queued(err error) error {
	if err != nil {
		return err
	}
	s.saveCache()
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return nil
}
