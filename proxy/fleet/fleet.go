package fleet

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/wssproxy/wssproxy/proxy/admin"
	"github.com/wssproxy/wssproxy/tlsconf"
)

// Defaults of Options.
const (
	DefaultTTL             = 10 * time.Second
	DefaultPollInterval    = 250 * time.Millisecond
	DefaultOpTimeout       = 3 * time.Second
	DefaultDecisionTimeout = 10 * time.Second
	DefaultMaxPaused       = 1000
	DefaultMaxValueBytes   = 256 << 10
)

// ErrNotConnected is returned while the instance has no etcd client or
// no lease on etcd (etcd unreachable, or Run not started).
var ErrNotConnected = errors.New("fleet: not connected to etcd")

// Options configure a Fleet; New copies them.
type Options struct {
	// Client returns the etcd client (shared with the trust store: see
	// etcdstore.Store.Client), or nil while there is none yet; required.
	// The Fleet never closes it.
	Client func() *clientv3.Client
	// Prefix is the deployment's key prefix ("wssproxy/"); the fleet's
	// keys are PREFIX/paused/…, PREFIX/decisions/…, PREFIX/outcomes/….
	Prefix string
	// Instance names this instance: a word without '/' or white space,
	// unique in the fleet. Default: the host name and a random suffix.
	Instance string
	// Registry holds this instance's paused handshakes; required.
	Registry *tlsconf.Registry
	// TTL is the lease of the published keys: they vanish this long
	// after the instance died. Default DefaultTTL (10 s; etcd counts
	// whole seconds, at least 2).
	TTL time.Duration
	// PollInterval is how often the Registry's paused handshakes are
	// compared with what was published. Default DefaultPollInterval.
	PollInterval time.Duration
	// OpTimeout bounds each etcd call. Default DefaultOpTimeout.
	OpTimeout time.Duration
	// DecisionTimeout bounds the wait for the holder's answer to a
	// decision. Default DefaultDecisionTimeout.
	DecisionTimeout time.Duration
	// MaxPaused bounds the paused handshakes listed from etcd; default
	// DefaultMaxPaused. MaxValueBytes bounds each value read; default
	// DefaultMaxValueBytes: larger ones are skipped.
	MaxPaused     int
	MaxValueBytes int
	// Logger receives the fleet's problems and the decisions applied for
	// other instances; the zero value logs nothing.
	Logger zerolog.Logger
}

// Fleet publishes this instance's paused handshakes, lists the fleet's
// and carries decisions between instances; it implements admin.Fleet.
// Start it with Run.
type Fleet struct {
	o      Options
	prefix string // Prefix with one trailing '/'

	mu   sync.Mutex
	sess *concurrency.Session // nil while not connected
}

var _ admin.Fleet = (*Fleet)(nil)

// New checks opts and returns a Fleet; Run starts it.
func New(opts *Options) (*Fleet, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Client == nil || o.Registry == nil {
		return nil, errors.New("fleet: Options.Client and Options.Registry are required")
	}
	if o.Instance == "" {
		host, _ := os.Hostname()
		host = strings.Map(func(r rune) rune {
			if r == '/' || r <= ' ' || r == 0x7f {
				return '-'
			}
			return r
		}, host)
		if host == "" {
			host = "wssproxy"
		}
		o.Instance = host + "-" + strings.ToLower(rand.Text()[:8])
	}
	if strings.ContainsAny(o.Instance, "/ \t\r\n") || len(o.Instance) > 128 {
		return nil, fmt.Errorf("fleet: instance name %q: want a word of at most 128 bytes without '/'", o.Instance)
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.TTL < 2*time.Second {
		o.TTL = 2 * time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = DefaultOpTimeout
	}
	if o.DecisionTimeout <= 0 {
		o.DecisionTimeout = DefaultDecisionTimeout
	}
	if o.MaxPaused <= 0 {
		o.MaxPaused = DefaultMaxPaused
	}
	if o.MaxValueBytes <= 0 {
		o.MaxValueBytes = DefaultMaxValueBytes
	}
	return &Fleet{o: o, prefix: strings.TrimSuffix(o.Prefix, "/") + "/"}, nil
}

// cli returns the etcd client; nil while there is none.
func (f *Fleet) cli() *clientv3.Client { return f.o.Client() }

// Instance returns this instance's name.
func (f *Fleet) Instance() string { return f.o.Instance }

func (f *Fleet) pausedKey(instance, id string) string {
	return f.prefix + "paused/" + instance + "/" + id
}
func (f *Fleet) decisionKey(instance, id string) string {
	return f.prefix + "decisions/" + instance + "/" + id
}
func (f *Fleet) outcomesPrefix() string { return f.prefix + "outcomes/" }

// session returns the current lease session, or nil.
func (f *Fleet) session() *concurrency.Session {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sess
}

// Run publishes this instance's paused handshakes and applies the
// decisions other instances send it, until ctx ends; then it revokes its
// lease (its keys vanish at once) and returns nil. While etcd is away it
// retries; the local Registry works on regardless.
func (f *Fleet) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { f.publish(ctx) })
	wg.Go(func() { f.watchDecisions(ctx) })
	wg.Wait()
	f.mu.Lock()
	s := f.sess
	f.sess = nil
	f.mu.Unlock()
	if s != nil {
		s.Orphan()
		rctx, cancel := context.WithTimeout(context.Background(), f.o.OpTimeout)
		err := ErrNotConnected
		if c := f.cli(); c != nil {
			_, err = c.Revoke(rctx, s.Lease())
		}
		cancel()
		if err != nil {
			f.o.Logger.Debug().Err(err).Msg("fleet: revoking the lease failed; the keys expire with it")
		}
	}
	return nil
}

// connect grants a lease and starts keeping it alive.
func (f *Fleet) connect(ctx context.Context) (*concurrency.Session, error) {
	c := f.cli()
	if c == nil {
		return nil, ErrNotConnected
	}
	gctx, cancel := context.WithTimeout(ctx, f.o.OpTimeout)
	lease, err := c.Grant(gctx, int64(f.o.TTL/time.Second))
	cancel()
	if err != nil {
		return nil, fmt.Errorf("fleet: lease: %w", err)
	}
	s, err := concurrency.NewSession(c, concurrency.WithLease(lease.ID), concurrency.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("fleet: lease: %w", err)
	}
	return s, nil
}

// publishedJSON is a published paused handshake.
type publishedJSON struct {
	tlsconf.PausedHandshake
	Instance string `json:"instance"`
}

// publish keeps PREFIX/paused/INSTANCE/ in step with the Registry.
func (f *Fleet) publish(ctx context.Context) {
	tick := time.NewTicker(f.o.PollInterval)
	defer tick.Stop()
	var (
		sess      *concurrency.Session
		published map[string]string // id -> value
		failing   bool
	)
	for {
		if sess == nil {
			s, err := f.connect(ctx)
			switch {
			case err == nil:
				sess, published = s, map[string]string{}
				f.mu.Lock()
				f.sess = s
				f.mu.Unlock()
				if failing {
					f.o.Logger.Info().Str("instance", f.o.Instance).Msg("fleet: connected to etcd again")
				}
				failing = false
			case ctx.Err() == nil && !failing:
				f.o.Logger.Warn().Err(err).Msg("fleet: cannot publish paused handshakes; retrying")
				failing = true
			}
		}
		if sess != nil {
			if err := f.sync(ctx, sess.Lease(), published); err != nil && ctx.Err() == nil && !failing {
				f.o.Logger.Warn().Err(err).Msg("fleet: publishing paused handshakes failed; retrying")
				failing = true
			} else if err == nil {
				failing = false
			}
		}
		var lost <-chan struct{}
		if sess != nil {
			lost = sess.Done()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-lost:
			if ctx.Err() != nil {
				return // the session ended with ctx: shutting down
			}
			f.o.Logger.Warn().Msg("fleet: lease lost (etcd unreachable too long); publishing again when it is back")
			f.mu.Lock()
			if f.sess == sess {
				f.sess = nil
			}
			f.mu.Unlock()
			sess, failing = nil, true
		}
	}
}

// sync writes the paused handshakes that changed and deletes those gone.
func (f *Fleet) sync(ctx context.Context, lease clientv3.LeaseID, published map[string]string) error {
	c := f.cli()
	now := map[string]string{}
	for _, p := range f.o.Registry.List() {
		b, err := json.Marshal(publishedJSON{PausedHandshake: p, Instance: f.o.Instance})
		if err != nil {
			return fmt.Errorf("fleet: encoding paused handshake %s: %w", p.ID, err)
		}
		now[p.ID] = string(b)
	}
	for id, v := range now {
		if published[id] == v {
			continue
		}
		octx, cancel := context.WithTimeout(ctx, f.o.OpTimeout)
		_, err := c.Put(octx, f.pausedKey(f.o.Instance, id), v, clientv3.WithLease(lease))
		cancel()
		if err != nil {
			return fmt.Errorf("fleet: publishing paused handshake %s: %w", id, err)
		}
		published[id] = v
	}
	for id := range published {
		if _, ok := now[id]; ok {
			continue
		}
		octx, cancel := context.WithTimeout(ctx, f.o.OpTimeout)
		_, err := c.Delete(octx, f.pausedKey(f.o.Instance, id))
		cancel()
		if err != nil {
			return fmt.Errorf("fleet: unpublishing paused handshake %s: %w", id, err)
		}
		delete(published, id)
	}
	return nil
}

// Remote lists the paused handshakes the other instances published.
func (f *Fleet) Remote(ctx context.Context) ([]admin.RemotePaused, error) {
	c := f.cli()
	if c == nil {
		return nil, ErrNotConnected
	}
	octx, cancel := context.WithTimeout(ctx, f.o.OpTimeout)
	defer cancel()
	resp, err := c.Get(octx, f.prefix+"paused/", clientv3.WithPrefix(), clientv3.WithLimit(int64(f.o.MaxPaused)),
		clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend))
	if err != nil {
		return nil, fmt.Errorf("fleet: listing the paused handshakes of the other instances: %w", err)
	}
	var out []admin.RemotePaused
	for _, kv := range resp.Kvs {
		instance, _, ok := strings.Cut(strings.TrimPrefix(string(kv.Key), f.prefix+"paused/"), "/")
		if !ok || instance == f.o.Instance || len(kv.Value) > f.o.MaxValueBytes || !json.Valid(kv.Value) {
			continue
		}
		out = append(out, admin.RemotePaused{Instance: instance, JSON: json.RawMessage(kv.Value)})
	}
	return out, nil
}

// decisionMsg is the value of a decision key.
type decisionMsg struct {
	admin.Decision
	// Reply is the key the holder writes its admin.Outcome to, with
	// Lease (the requester's).
	Reply string `json:"reply"`
	Lease int64  `json:"lease"`
}

// holder finds the instance that published paused handshake id.
func (f *Fleet) holder(ctx context.Context, id string) (string, error) {
	c := f.cli()
	if c == nil {
		return "", ErrNotConnected
	}
	octx, cancel := context.WithTimeout(ctx, f.o.OpTimeout)
	defer cancel()
	resp, err := c.Get(octx, f.prefix+"paused/", clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithLimit(int64(f.o.MaxPaused)))
	if err != nil {
		return "", fmt.Errorf("fleet: finding the instance holding %q: %w", id, err)
	}
	for _, kv := range resp.Kvs {
		instance, kid, ok := strings.Cut(strings.TrimPrefix(string(kv.Key), f.prefix+"paused/"), "/")
		if ok && kid == id {
			return instance, nil
		}
	}
	return "", nil
}

// Decide carries d to the instance holding paused handshake id (if any
// does) and waits for its Outcome, within ctx and DecisionTimeout.
func (f *Fleet) Decide(ctx context.Context, id string, d admin.Decision) (admin.Outcome, bool, error) {
	if id == "" || strings.ContainsAny(id, "/ ") {
		return admin.Outcome{}, false, nil
	}
	holder, err := f.holder(ctx, id)
	if err != nil || holder == "" {
		return admin.Outcome{}, false, err
	}
	if holder == f.o.Instance {
		// Ours, decided or gone since the caller looked: the registry
		// answers (404 if gone).
		return admin.Decide(ctx, f.o.Registry, id, d, f.o.Logger), true, nil
	}
	sess, c := f.session(), f.cli()
	if sess == nil || c == nil {
		return admin.Outcome{}, true, ErrNotConnected
	}
	ctx, cancel := context.WithTimeout(ctx, f.o.DecisionTimeout)
	defer cancel()
	reply := f.outcomesPrefix() + f.o.Instance + "/" + strings.ToLower(rand.Text())
	msg, err := json.Marshal(decisionMsg{Decision: d, Reply: reply, Lease: int64(sess.Lease())})
	if err != nil {
		return admin.Outcome{}, true, fmt.Errorf("fleet: encoding the decision: %w", err)
	}
	pk, dk := f.pausedKey(holder, id), f.decisionKey(holder, id)
	octx, ocancel := context.WithTimeout(ctx, f.o.OpTimeout)
	txn, err := c.Txn(octx).
		If(clientv3.Compare(clientv3.CreateRevision(pk), ">", 0)).
		Then(clientv3.OpPut(dk, string(msg), clientv3.WithLease(sess.Lease()))).
		Commit()
	ocancel()
	if err != nil {
		return admin.Outcome{}, true, fmt.Errorf("fleet: sending the decision to %s: %w", holder, err)
	}
	if !txn.Succeeded {
		return admin.Outcome{}, false, nil // decided or gone meanwhile
	}
	wctx, wcancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer wcancel()
	for resp := range c.Watch(wctx, reply, clientv3.WithRev(txn.Header.Revision+1)) {
		if err := resp.Err(); err != nil {
			break
		}
		for _, ev := range resp.Events {
			if ev.Type != clientv3.EventTypePut {
				continue
			}
			var o admin.Outcome
			if len(ev.Kv.Value) > f.o.MaxValueBytes || json.Unmarshal(ev.Kv.Value, &o) != nil || o.Status == 0 {
				return admin.Outcome{}, true, fmt.Errorf("fleet: %s answered with an unreadable outcome", holder)
			}
			f.cleanup(reply)
			return o, true, nil
		}
	}
	// No answer: withdraw the decision so that it is not applied later
	// behind the operator's back (it may still have been).
	f.cleanup(dk)
	if err := ctx.Err(); err != nil {
		return admin.Outcome{}, true, fmt.Errorf("fleet: instance %s did not answer the decision on %s in time: %w", holder, id, err)
	}
	return admin.Outcome{}, true, fmt.Errorf("fleet: watching for the answer of %s lost etcd", holder)
}

// cleanup deletes key, best effort, within OpTimeout.
func (f *Fleet) cleanup(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), f.o.OpTimeout)
	defer cancel()
	if c := f.cli(); c != nil {
		_, _ = c.Delete(ctx, key)
	}
}

// watchDecisions applies the decisions written for this instance.
func (f *Fleet) watchDecisions(ctx context.Context) {
	prefix := f.prefix + "decisions/" + f.o.Instance + "/"
	backoff := f.o.PollInterval
	for ctx.Err() == nil {
		c := f.cli()
		if c == nil {
			if !sleep(ctx, backoff) {
				return
			}
			continue
		}
		octx, cancel := context.WithTimeout(ctx, f.o.OpTimeout)
		resp, err := c.Get(octx, prefix, clientv3.WithPrefix(), clientv3.WithLimit(int64(f.o.MaxPaused)))
		cancel()
		if err == nil {
			for _, kv := range resp.Kvs {
				f.apply(ctx, string(kv.Key), kv.Value, strings.TrimPrefix(string(kv.Key), prefix))
			}
			wctx, wcancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
			for wr := range c.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1)) {
				if wr.Err() != nil {
					break
				}
				for _, ev := range wr.Events {
					if ev.Type == clientv3.EventTypePut {
						f.apply(ctx, string(ev.Kv.Key), ev.Kv.Value, strings.TrimPrefix(string(ev.Kv.Key), prefix))
					}
				}
			}
			wcancel()
			backoff = f.o.PollInterval
		}
		sleep(ctx, backoff)
		backoff = min(2*backoff, 5*time.Second)
	}
}

// apply applies one decision for paused handshake id and writes the
// outcome for the requester.
func (f *Fleet) apply(ctx context.Context, key string, value []byte, id string) {
	var m decisionMsg
	if len(value) > f.o.MaxValueBytes || json.Unmarshal(value, &m) != nil || !strings.HasPrefix(m.Reply, f.outcomesPrefix()) {
		f.o.Logger.Warn().Str("key", key).Msg("fleet: ignoring an unreadable decision")
		f.cleanup(key)
		return
	}
	dctx, cancel := context.WithTimeout(ctx, f.o.OpTimeout)
	o := admin.Decide(dctx, f.o.Registry, id, m.Decision, f.o.Logger)
	cancel()
	b, _ := json.Marshal(o)
	octx, ocancel := context.WithTimeout(ctx, f.o.OpTimeout)
	defer ocancel()
	c := f.cli()
	if c == nil {
		return
	}
	if _, err := c.Txn(octx).Then(
		clientv3.OpPut(m.Reply, string(b), clientv3.WithLease(clientv3.LeaseID(m.Lease))),
		clientv3.OpDelete(key),
	).Commit(); err != nil {
		f.o.Logger.Warn().Err(err).Str("paused_id", id).Str("from", m.From).Msg("fleet: answering a decision failed (it was applied)")
		f.cleanup(key)
	}
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
