package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// ErrClosed is returned by the methods of a closed Store.
var ErrClosed = errors.New("etcdstore: store closed")

// ErrQueueFull is returned by a write made while etcd is away when
// Options.MaxPendingWrites writes are already queued: the write is not
// applied, not even locally.
var ErrQueueFull = errors.New("etcdstore: etcd unreachable and the write queue is full")

// Status is a Store's connection state.
type Status struct {
	// Degraded is true while etcd cannot be reached (or Open found it
	// unreachable and started from the cache file): reads are served from
	// the last state seen, writes are queued.
	Degraded bool
	// Since is when the Store last became degraded or connected.
	Since time.Time
	// Err is why it is degraded (nil when connected).
	Err error
	// PendingWrites counts the writes queued, not yet in etcd.
	PendingWrites int
	// DroppedWrites counts the queued writes etcd refused when they were
	// sent (permission denied, too large), each logged with its key.
	DroppedWrites int
	// Revision is the etcd revision of the state last read (0 before the
	// first read).
	Revision int64
	// Malformed lists the keys whose values are skipped as malformed
	// (each logged once, naming the key).
	Malformed []string
}

// Store is a tlsconf.TrustStore and tlsconf.PSKStore on etcd. Reads are
// answered from memory, kept current by one etcd watch on
// PREFIX/trust/; writes go to etcd (or, while it is away, to a bounded
// queue retried in order). Its methods are safe for concurrent use.
type Store struct {
	opts Options
	base string // PREFIX/trust/
	log  zerolog.Logger
	cfg  clientv3.Config

	client atomic.Pointer[clientv3.Client]
	view   atomic.Pointer[view]
	kick   chan struct{} // a write was queued
	cancel context.CancelFunc
	done   chan struct{} // closed when the background loop ends
	once   sync.Once
	closed atomic.Bool // set by Close, under mu

	saveMu sync.Mutex // serializes cache file writes

	mu       sync.Mutex
	remote   map[string][]byte
	rev      int64
	ops      []*op
	items    map[string]*item
	degraded bool
	since    time.Time
	cause    error
	dirty    bool // the cache file is behind
	dropped  int  // queued writes etcd refused
	watchers map[chan struct{}]func() bool
}

// Open connects to etcd, reads the state under PREFIX/trust/ (within
// DialTimeout) and starts the watch that keeps it current. If etcd cannot
// be reached and Options.CacheFile holds a previous state, Open returns a
// degraded Store serving that state and connects in the background;
// without a cache it returns the error. Wrong credentials are an error
// even with a cache. opts is copied. Close releases the Store.
func Open(ctx context.Context, opts *Options) (*Store, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s := &Store{
		opts:     o,
		base:     o.Prefix + trustDir,
		log:      o.Logger,
		kick:     make(chan struct{}, 1),
		cancel:   cancel,
		done:     make(chan struct{}),
		remote:   make(map[string][]byte),
		items:    make(map[string]*item),
		watchers: make(map[chan struct{}]func() bool),
		since:    time.Now(),
	}
	s.cfg = clientv3.Config{
		Endpoints:   o.Endpoints,
		TLS:         o.TLS,
		Username:    o.Username,
		Password:    o.Password,
		DialTimeout: o.DialTimeout,
		Context:     runCtx,
		Logger:      zap.NewNop(), // the Store logs what matters itself
		// gRPC waits up to two minutes between connection attempts by
		// default: after a long outage the Store would lag that long
		// behind etcd's return.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: minBackoff, Multiplier: 1.6, Jitter: 0.2, MaxDelay: maxBackoff},
			MinConnectTimeout: o.DialTimeout,
		})},
	}
	fail := func(err error) (*Store, error) {
		cancel()
		if c := s.client.Load(); c != nil {
			c.Close()
		}
		return nil, err
	}

	cached, cacheErr := s.readCache()
	if cached != nil {
		s.loadCache(cached)
	}

	openCtx, openCancel := context.WithTimeout(ctx, o.DialTimeout)
	defer openCancel()
	err = s.connect(openCtx)
	if err == nil {
		err = s.resync(openCtx)
	}
	if err != nil {
		err = s.explain(openCtx, err)
		switch {
		case ctx.Err() != nil || permanent(err):
			return fail(err)
		case cacheErr != nil:
			return fail(fmt.Errorf("%w (and the cache file is unusable: %w)", err, cacheErr))
		case cached == nil && o.CacheFile != "":
			return fail(fmt.Errorf("%w (and no cache file yet at %s)", err, o.CacheFile))
		case cached == nil:
			return fail(err)
		}
		s.mu.Lock()
		s.setDegraded(err)
		s.mu.Unlock()
	} else if cacheErr != nil {
		s.log.Warn().Err(cacheErr).Msg("etcdstore: cache file ignored; it is rewritten from etcd")
	}
	s.mu.Lock()
	s.publish()
	s.mu.Unlock()
	s.saveCache()
	go s.run(runCtx)
	return s, nil
}

// connect creates the etcd client if there is none yet. With credentials
// the client authenticates at once, so that fails while etcd is away.
func (s *Store) connect(ctx context.Context) error {
	if s.client.Load() != nil {
		return nil
	}
	cfg := s.cfg
	if dl, ok := ctx.Deadline(); ok {
		cfg.DialTimeout = max(min(cfg.DialTimeout, time.Until(dl)), time.Millisecond)
	}
	c, err := clientv3.New(cfg)
	if err != nil {
		return fmt.Errorf("etcdstore: creating the etcd client: %w", err)
	}
	s.client.Store(c)
	return nil
}

// Close stops the watch and the retries, saves the cache file (with any
// writes still queued: the next Open retries them), closes every Watch
// channel and the etcd client. It returns the client's close error.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		s.cancel()
		<-s.done
		s.mu.Lock()
		s.closed.Store(true)
		for ch, stop := range s.watchers {
			stop()
			close(ch)
		}
		clear(s.watchers)
		s.mu.Unlock()
		s.saveCache()
		if c := s.client.Load(); c != nil {
			if cerr := c.Close(); cerr != nil && !errors.Is(cerr, context.Canceled) {
				err = fmt.Errorf("etcdstore: closing the etcd client: %w", cerr)
			}
		}
	})
	return err
}

// Client returns the etcd client, to share one connection with other
// users of the same cluster (ACME storage, fleet state). It is nil only
// when Open started degraded with Username and Password set (the client
// authenticates when created, which needs etcd); the Store creates it
// when etcd comes back. The Store closes it in Close.
func (s *Store) Client() *clientv3.Client { return s.client.Load() }

// Prefix returns the deployment's key prefix, normalized (leading '/',
// no trailing '/').
func (s *Store) Prefix() string { return s.opts.Prefix }

// Status returns the connection state.
func (s *Store) Status() Status {
	s.mu.Lock()
	st := Status{Degraded: s.degraded, Since: s.since, Err: s.cause, PendingWrites: s.pendingCount(), DroppedWrites: s.dropped, Revision: s.rev}
	s.mu.Unlock()
	st.Malformed = append([]string(nil), s.view.Load().malformed...)
	return st
}

// Watch returns a channel that receives a value (coalesced) after what
// the Store serves changed: a change by any instance seen through the
// etcd watch, a local write, or a reload after etcd came back. It is
// closed when ctx ends or the Store is closed.
func (s *Store) Watch(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		close(ch)
		return ch
	}
	s.watchers[ch] = context.AfterFunc(ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.watchers[ch]; ok {
			delete(s.watchers, ch)
			close(ch)
		}
	})
	return ch
}

// setDegraded records that etcd is away, logging the transition once.
// Called with s.mu held.
func (s *Store) setDegraded(cause error) {
	s.cause = cause
	if s.degraded {
		return
	}
	s.degraded, s.since = true, time.Now()
	s.log.Warn().Err(cause).Int("pending_writes", s.pendingCount()).
		Msg("etcdstore: etcd unreachable; serving the cached state and queueing writes")
}

// setConnected records that etcd answers, logging the transition once.
// Called with s.mu held.
func (s *Store) setConnected() {
	s.cause = nil
	if !s.degraded {
		return
	}
	s.degraded, s.since = false, time.Now()
	s.log.Info().Int("pending_writes", s.pendingCount()).Int64("revision", s.rev).
		Msg("etcdstore: etcd reachable again")
}
