package etcdstorage

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Defaults of [Options].
const (
	DefaultLockTTL      = 15 * time.Second
	DefaultTimeout      = 5 * time.Second
	DefaultMaxValueSize = 1 << 20
)

// listPage is how many keys one List request fetches at a time.
const listPage = 1000

// Errors returned (wrapped) by Storage. Missing keys are reported with
// fs.ErrNotExist, as certmagic expects.
var (
	// ErrNotLocked is returned by Unlock for a lock this Storage does not
	// hold.
	ErrNotLocked = errors.New("etcdstorage: lock not held")
	// ErrLockLost is returned by Unlock (and Lock) when the lock's lease
	// expired while it was held (or awaited), for example because etcd
	// was unreachable for longer than LockTTL: another instance may have
	// taken the lock meanwhile.
	ErrLockLost = errors.New("etcdstorage: lock lease expired")
	// ErrValueTooLarge is returned by Store for a value above
	// Options.MaxValueSize.
	ErrValueTooLarge = errors.New("etcdstorage: value too large")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("etcdstorage: storage closed")
)

// Options configures a [Storage]. The zero value (or nil) gives the
// defaults.
type Options struct {
	// LockTTL is the TTL of the etcd lease behind each held lock: a
	// holder that crashes or loses etcd keeps its locks at most this long
	// (rounded up to whole seconds; etcd may raise very small values to
	// its minimum). Zero means DefaultLockTTL (15 s).
	LockTTL time.Duration
	// Timeout bounds every single etcd request (a Load, a Store, one step
	// of Lock) on top of the caller's context. Waiting for a lock held by
	// someone else is bounded by the caller's context only. Zero means
	// DefaultTimeout (5 s).
	Timeout time.Duration
	// MaxValueSize is the largest value Store accepts, in bytes. etcd
	// refuses requests above its --max-request-bytes (1.5 MiB by
	// default), so keep it below that. Zero means DefaultMaxValueSize
	// (1 MiB), far above what certmagic writes (a few KiB).
	MaxValueSize int
	// Logger receives lock events at debug level and lock problems at
	// warn level. The zero value logs nothing.
	Logger zerolog.Logger
}

// Storage is a [certmagic.Storage] (with [certmagic.TryLocker]) on etcd.
// All its keys live under PREFIX/acme/ (see the package documentation for
// the layout). It is safe for concurrent use. Instances of wssproxy that
// use the same etcd cluster and prefix share ACME accounts, certificates
// and locks, so each certificate is obtained and renewed once.
//
// Storage uses a client owned by the caller and never closes it; Close
// releases the locks this Storage holds.
type Storage struct {
	client *clientv3.Client
	root   string // PREFIX/acme/
	data   string // root + "data/": one key per stored value
	meta   string // root + "meta/": modification time and size of each value
	locks  string // root + "locks/": one mutex per lock name
	ttl    int    // lease TTL in seconds
	page   int    // keys per List request (listPage; smaller in tests)
	opts   Options

	mu     sync.Mutex
	held   map[string]*heldLock
	closed bool
}

var (
	_ certmagic.Storage   = (*Storage)(nil)
	_ certmagic.TryLocker = (*Storage)(nil)
)

// keyMeta is the value of a meta key.
type keyMeta struct {
	Modified time.Time `json:"modified"`
	Size     int64     `json:"size"`
}

// New returns a Storage keeping its keys under prefix + "/acme/" in the
// etcd cluster client talks to (prefix "/wssproxy" gives
// "/wssproxy/acme/…"; a trailing slash on prefix is ignored). It does
// not contact etcd. The client stays the caller's: Storage never closes
// it, and it must stay open until Close.
func New(client *clientv3.Client, prefix string, opts *Options) (*Storage, error) {
	if client == nil {
		return nil, errors.New("etcdstorage: nil etcd client")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.LockTTL < 0 || o.Timeout < 0 || o.MaxValueSize < 0 {
		return nil, errors.New("etcdstorage: negative LockTTL, Timeout or MaxValueSize")
	}
	o.LockTTL = cmp.Or(o.LockTTL, DefaultLockTTL)
	o.Timeout = cmp.Or(o.Timeout, DefaultTimeout)
	o.MaxValueSize = cmp.Or(o.MaxValueSize, DefaultMaxValueSize)
	if strings.ContainsRune(prefix, 0) {
		return nil, errors.New("etcdstorage: prefix contains NUL")
	}
	root := strings.TrimRight(prefix, "/") + "/acme/"
	return &Storage{
		client: client,
		root:   root,
		data:   root + "data/",
		meta:   root + "meta/",
		locks:  root + "locks/",
		ttl:    int((o.LockTTL + time.Second - 1) / time.Second),
		page:   listPage,
		opts:   o,
		held:   make(map[string]*heldLock),
	}, nil
}

// String describes the storage for logs: "etcd:" and its key prefix.
func (s *Storage) String() string { return "etcd:" + s.root }

// opCtx bounds one etcd request by Options.Timeout.
func (s *Storage) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opts.Timeout)
}

func (s *Storage) checkOpen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return nil
}

// checkKey accepts certmagic's keys: non-empty slash-separated paths
// without leading or trailing slashes, empty, "." or ".." components.
func checkKey(key string) error {
	if key == "" || key == "." || path.Clean(key) != key || strings.HasPrefix(key, "/") ||
		strings.HasPrefix(key, "../") || key == ".." || strings.ContainsRune(key, 0) {
		return fmt.Errorf("etcdstorage: invalid key %q", key)
	}
	return nil
}

// Store puts value at key, with its modification time and size, in one
// etcd transaction (readers see the old or the new value, never a mix).
func (s *Storage) Store(ctx context.Context, key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := s.checkOpen(); err != nil {
		return err
	}
	if len(value) > s.opts.MaxValueSize {
		return fmt.Errorf("%w: %q is %d bytes, the limit is %d", ErrValueTooLarge, key, len(value), s.opts.MaxValueSize)
	}
	m, err := json.Marshal(keyMeta{Modified: time.Now().UTC(), Size: int64(len(value))})
	if err != nil {
		return fmt.Errorf("etcdstorage: store %q: %w", key, err)
	}
	octx, cancel := s.opCtx(ctx)
	defer cancel()
	_, err = s.client.Txn(octx).Then(
		clientv3.OpPut(s.data+key, string(value)),
		clientv3.OpPut(s.meta+key, string(m)),
	).Commit()
	if err != nil {
		return fmt.Errorf("etcdstorage: store %q: %w", key, err)
	}
	return nil
}

// Load returns the value at key, or an error wrapping fs.ErrNotExist.
func (s *Storage) Load(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	octx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.client.Get(octx, s.data+key)
	if err != nil {
		return nil, fmt.Errorf("etcdstorage: load %q: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("etcdstorage: load %q: %w", key, fs.ErrNotExist)
	}
	return resp.Kvs[0].Value, nil
}

// Delete removes key and, if key is a directory, every key under it, in
// one transaction. A missing key is not an error.
func (s *Storage) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := s.checkOpen(); err != nil {
		return err
	}
	octx, cancel := s.opCtx(ctx)
	defer cancel()
	_, err := s.client.Txn(octx).Then(
		clientv3.OpDelete(s.data+key),
		clientv3.OpDelete(s.data+key+"/", clientv3.WithPrefix()),
		clientv3.OpDelete(s.meta+key),
		clientv3.OpDelete(s.meta+key+"/", clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return fmt.Errorf("etcdstorage: delete %q: %w", key, err)
	}
	return nil
}

// Exists reports whether key exists as a value or as a directory (a
// prefix of stored keys). It returns false when etcd cannot be asked.
func (s *Storage) Exists(ctx context.Context, key string) bool {
	file, dir, err := s.exists(ctx, key)
	if err != nil {
		s.opts.Logger.Debug().Err(err).Str("key", key).Msg("etcdstorage: exists")
	}
	return err == nil && (file || dir)
}

// exists looks key up as a value and as a directory in one request.
func (s *Storage) exists(ctx context.Context, key string) (file, dir bool, err error) {
	if err := checkKey(key); err != nil {
		return false, false, err
	}
	if err := s.checkOpen(); err != nil {
		return false, false, err
	}
	octx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.client.Txn(octx).Then(
		clientv3.OpGet(s.data+key, clientv3.WithCountOnly()),
		clientv3.OpGet(s.data+key+"/", clientv3.WithPrefix(), clientv3.WithCountOnly()),
	).Commit()
	if err != nil {
		return false, false, fmt.Errorf("etcdstorage: exists %q: %w", key, err)
	}
	return resp.Responses[0].GetResponseRange().Count > 0, resp.Responses[1].GetResponseRange().Count > 0, nil
}

// Stat returns key's size and modification time (for a value) or
// IsTerminal false (for a directory), or an error wrapping
// fs.ErrNotExist.
func (s *Storage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	if err := checkKey(key); err != nil {
		return certmagic.KeyInfo{}, err
	}
	if err := s.checkOpen(); err != nil {
		return certmagic.KeyInfo{}, err
	}
	octx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.client.Txn(octx).Then(
		clientv3.OpGet(s.meta+key),
		clientv3.OpGet(s.data+key, clientv3.WithCountOnly()),
		clientv3.OpGet(s.data+key+"/", clientv3.WithPrefix(), clientv3.WithCountOnly()),
	).Commit()
	if err != nil {
		return certmagic.KeyInfo{}, fmt.Errorf("etcdstorage: stat %q: %w", key, err)
	}
	metaKvs := resp.Responses[0].GetResponseRange().Kvs
	if resp.Responses[1].GetResponseRange().Count > 0 {
		info := certmagic.KeyInfo{Key: key, IsTerminal: true}
		if len(metaKvs) > 0 {
			var m keyMeta
			if err := json.Unmarshal(metaKvs[0].Value, &m); err != nil {
				return certmagic.KeyInfo{}, fmt.Errorf("etcdstorage: stat %q: metadata: %w", key, err)
			}
			info.Modified, info.Size = m.Modified, m.Size
		}
		return info, nil
	}
	if resp.Responses[2].GetResponseRange().Count > 0 {
		return certmagic.KeyInfo{Key: key}, nil
	}
	return certmagic.KeyInfo{}, fmt.Errorf("etcdstorage: stat %q: %w", key, fs.ErrNotExist)
}

// List returns the keys under dir ("" lists from the top), as full keys
// like certmagic's FileStorage: with recursive false, the values and
// directories directly in dir; with recursive true, every value and
// directory below it. A dir that does not exist gives an error wrapping
// fs.ErrNotExist; a value (not a directory) gives an empty list. Keys are
// fetched in pages of 1000 from one consistent revision.
func (s *Storage) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	if dir != "" {
		if err := checkKey(dir); err != nil {
			return nil, err
		}
	}
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	from := s.data
	if dir != "" {
		from += dir + "/"
	}
	end := clientv3.GetPrefixRangeEnd(from)
	var (
		out  []string
		seen = make(map[string]bool)
		rev  int64
	)
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for start := from; ; {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithKeysOnly(), clientv3.WithLimit(int64(s.page))}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		octx, cancel := s.opCtx(ctx)
		resp, err := s.client.Get(octx, start, opts...)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("etcdstorage: list %q: %w", dir, err)
		}
		rev = resp.Header.Revision
		for _, kv := range resp.Kvs {
			rel := strings.TrimPrefix(string(kv.Key), from)
			parts := strings.Split(rel, "/")
			if !recursive {
				add(path.Join(dir, parts[0]))
				continue
			}
			for i := range parts {
				add(path.Join(dir, strings.Join(parts[:i+1], "/")))
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	if len(out) == 0 && dir != "" {
		file, _, err := s.exists(ctx, dir)
		if err != nil {
			return nil, fmt.Errorf("etcdstorage: list %q: %w", dir, err)
		}
		if !file {
			return nil, fmt.Errorf("etcdstorage: list %q: %w", dir, fs.ErrNotExist)
		}
	}
	return out, nil
}
