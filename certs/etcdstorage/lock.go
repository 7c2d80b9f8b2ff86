package etcdstorage

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// heldLock is one lock held by this Storage: its own lease, kept alive by
// a concurrency session, and its key under the lock's prefix.
type heldLock struct {
	session *concurrency.Session
	key     string
}

// lockPrefix is the prefix of the contenders' keys for lock name. The name
// is path-escaped so that no lock's prefix contains another's.
func (s *Storage) lockPrefix(name string) string {
	return s.locks + url.PathEscape(name) + "/"
}

// Lock takes the lock called name, waiting while another holder (this or
// another instance) has it, until ctx ends. Contenders are served in the
// order they asked. The lock is a key attached to an etcd lease of
// LockTTL that is kept alive while the lock is held, so the lock of a
// holder that crashes or loses etcd expires within LockTTL. Each etcd
// request is bounded by Timeout; an unreachable etcd makes Lock fail
// rather than wait. Locks are not reentrant: a second Lock of a name this
// Storage holds waits for its Unlock, like any other contender.
func (s *Storage) Lock(ctx context.Context, name string) error {
	_, err := s.lock(ctx, name, true)
	return err
}

// TryLock takes the lock called name if nobody holds it and reports
// whether it did, without waiting for a holder.
func (s *Storage) TryLock(ctx context.Context, name string) (bool, error) {
	return s.lock(ctx, name, false)
}

func (s *Storage) lock(ctx context.Context, name string, wait bool) (bool, error) {
	if err := s.checkOpen(); err != nil {
		return false, err
	}
	pfx := s.lockPrefix(name)
	octx, cancel := s.opCtx(ctx)
	lease, err := s.client.Grant(octx, int64(s.ttl))
	cancel()
	if err != nil {
		return false, fmt.Errorf("etcdstorage: lock %q: lease: %w", name, err)
	}
	// The session keeps the lease alive in the background until Orphan;
	// it lives beyond ctx, as the lock does.
	sess, err := concurrency.NewSession(s.client, concurrency.WithLease(lease.ID), concurrency.WithTTL(s.ttl))
	if err != nil {
		s.revoke(ctx, lease.ID)
		return false, fmt.Errorf("etcdstorage: lock %q: session: %w", name, err)
	}
	h := &heldLock{session: sess, key: pfx + strconv.FormatInt(int64(lease.ID), 16)}
	ok, err := s.acquire(ctx, h, pfx, wait)
	if err != nil || !ok {
		s.release(ctx, h)
		if err != nil {
			return false, fmt.Errorf("etcdstorage: lock %q: %w", name, err)
		}
		return false, nil
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.release(ctx, h)
		return false, ErrClosed
	}
	s.held[name] = h
	s.mu.Unlock()
	s.opts.Logger.Debug().Str("lock", name).Str("lease", strconv.FormatInt(int64(lease.ID), 16)).Msg("etcdstorage: lock acquired")
	return true, nil
}

// acquire puts h's key under pfx (its create revision is its place in the
// queue) and, if wait is set, waits until every earlier key is gone. It
// reports whether h is first.
func (s *Storage) acquire(ctx context.Context, h *heldLock, pfx string, wait bool) (bool, error) {
	octx, cancel := s.opCtx(ctx)
	resp, err := s.client.Txn(octx).
		If(clientv3.Compare(clientv3.CreateRevision(h.key), "=", 0)).
		Then(clientv3.OpPut(h.key, "", clientv3.WithLease(h.session.Lease()))).
		Commit()
	cancel()
	if err != nil {
		return false, err
	}
	if !resp.Succeeded {
		return false, errors.New("lease key already exists")
	}
	myRev := resp.Header.Revision
	for {
		octx, cancel := s.opCtx(ctx)
		prev, err := s.client.Get(octx, pfx, append(clientv3.WithLastCreate(), clientv3.WithMaxCreateRev(myRev-1))...)
		cancel()
		if err != nil {
			return false, err
		}
		if len(prev.Kvs) == 0 {
			break
		}
		if !wait {
			return false, nil
		}
		if err := s.waitDelete(ctx, h, string(prev.Kvs[0].Key), prev.Header.Revision); err != nil {
			return false, err
		}
	}
	// Our own key must still be there: the lease may have expired while
	// we waited (etcd unreachable for longer than LockTTL).
	octx, cancel = s.opCtx(ctx)
	mine, err := s.client.Get(octx, h.key, clientv3.WithCountOnly())
	cancel()
	if err != nil {
		return false, err
	}
	if mine.Count == 0 {
		return false, ErrLockLost
	}
	return true, nil
}

// waitDelete waits until key is deleted after revision rev, ctx ends or
// h's lease is lost. It returns nil also when the watch breaks (the
// caller looks again).
func (s *Storage) waitDelete(ctx context.Context, h *heldLock, key string, rev int64) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := s.client.Watch(wctx, key, clientv3.WithRev(rev+1), clientv3.WithFilterPut())
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-h.session.Done():
			return ErrLockLost
		case wr, ok := <-wch:
			if !ok || wr.Err() != nil {
				// Lost leader or compacted: pause briefly, then the
				// caller looks at the queue again.
				t := time.NewTimer(100 * time.Millisecond)
				defer t.Stop()
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-t.C:
				}
				return nil
			}
			for _, ev := range wr.Events {
				if ev.Type == clientv3.EventTypeDelete {
					return nil
				}
			}
		}
	}
}

// Unlock releases the lock called name, which this Storage must hold:
// otherwise it returns an error wrapping ErrNotLocked. It revokes the
// lock's lease, which deletes its key at once. If etcd cannot be reached,
// Unlock returns an error and the lock expires within LockTTL. If the
// lease had already expired, it returns an error wrapping ErrLockLost.
func (s *Storage) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	h, ok := s.held[name]
	delete(s.held, name)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %q", ErrNotLocked, name)
	}
	lost := false
	select {
	case <-h.session.Done():
		lost = true
	default:
	}
	err := s.release(ctx, h)
	switch {
	case lost:
		s.opts.Logger.Warn().Str("lock", name).Msg("etcdstorage: lock lease expired while held; another instance may have held it too")
		return fmt.Errorf("etcdstorage: unlock %q: %w", name, ErrLockLost)
	case err != nil:
		return fmt.Errorf("etcdstorage: unlock %q (it expires within %ds): %w", name, s.ttl, err)
	}
	s.opts.Logger.Debug().Str("lock", name).Msg("etcdstorage: lock released")
	return nil
}

// release stops h's keepalive and revokes its lease (deleting its key).
func (s *Storage) release(ctx context.Context, h *heldLock) error {
	h.session.Orphan()
	return s.revoke(ctx, h.session.Lease())
}

// revoke revokes a lease, bounded by Timeout even if ctx is already done
// (a release must still reach etcd after its caller gave up).
func (s *Storage) revoke(ctx context.Context, id clientv3.LeaseID) error {
	octx, cancel := s.opCtx(context.WithoutCancel(ctx))
	defer cancel()
	_, err := s.client.Revoke(octx, id)
	return err
}

// Close releases every lock this Storage holds and makes later calls fail
// with ErrClosed. It does not close the etcd client. It is safe to call
// more than once.
func (s *Storage) Close() error {
	s.mu.Lock()
	held := s.held
	s.held = make(map[string]*heldLock)
	s.closed = true
	s.mu.Unlock()
	var errs []error
	for name, h := range held {
		if err := s.release(context.Background(), h); err != nil {
			errs = append(errs, fmt.Errorf("etcdstorage: close: releasing %q (it expires within %ds): %w", name, s.ttl, err))
		}
	}
	return errors.Join(errs...)
}
