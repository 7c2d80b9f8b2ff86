package etcdstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wssproxy/wssproxy/internal/privatefile"
)

// ErrInsecureCacheFile is returned by Open for a cache file the group or
// others may access: it holds PSK keys.
var ErrInsecureCacheFile = errors.New("etcdstore: cache file is accessible by group or others (chmod 600)")

// maxCacheFileSize bounds the cache file read.
const maxCacheFileSize = 64 << 20

// cacheVersion is the cache file format's version.
const cacheVersion = 1

// cacheFile is the cache file's content: the state last seen (etcd's,
// with this Store's landed writes) and the writes still queued.
type cacheFile struct {
	Version  int          `json:"version"`
	Prefix   string       `json:"prefix"`
	Revision int64        `json:"revision"`
	Saved    time.Time    `json:"saved"`
	Entries  []cacheEntry `json:"entries"`
	Pending  []cacheEntry `json:"pending,omitempty"`
}

// cacheEntry is a key (relative to PREFIX/trust/) and its value; a
// pending entry without value is a delete.
type cacheEntry struct {
	Key    string `json:"key"`
	Value  []byte `json:"value,omitempty"`
	Delete bool   `json:"delete,omitempty"`
}

// readCache reads the cache file: (nil, nil) when there is none or no
// CacheFile is set.
func (s *Store) readCache() (*cacheFile, error) {
	path := s.opts.CacheFile
	if path == "" {
		return nil, nil
	}
	data, err := privatefile.Read(path, maxCacheFileSize, ErrInsecureCacheFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case errors.Is(err, ErrInsecureCacheFile):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("etcdstore: cache file: %w", err)
	}
	defer clear(data)
	var c cacheFile
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("etcdstore: cache file %s: %w", path, err)
	}
	if c.Version != cacheVersion {
		return nil, fmt.Errorf("etcdstore: cache file %s: version %d, want %d", path, c.Version, cacheVersion)
	}
	if c.Prefix != s.opts.Prefix {
		return nil, fmt.Errorf("etcdstore: cache file %s holds prefix %q, not %q", path, c.Prefix, s.opts.Prefix)
	}
	return &c, nil
}

// loadCache makes c the state (before anything was read from etcd), its
// pending writes queued.
func (s *Store) loadCache(c *cacheFile) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range c.Entries {
		s.remote[e.Key] = e.Value
	}
	for _, p := range c.Pending {
		v := p.Value
		if p.Delete {
			v = nil
		} else if v == nil {
			v = []byte{}
		}
		s.ops = append(s.ops, &op{key: p.Key, value: v})
	}
	s.rev = c.Revision
	s.refreshAll()
}

// saveCache writes the cache file (if one is configured) with the current
// state. Errors are logged: the cache only matters at the next Open.
func (s *Store) saveCache() {
	if s.opts.CacheFile == "" {
		return
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.mu.Lock()
	c := cacheFile{Version: cacheVersion, Prefix: s.opts.Prefix, Revision: s.rev, Saved: time.Now().UTC()}
	state := make(map[string][]byte, len(s.remote))
	for k, v := range s.remote {
		state[k] = v
	}
	landed := slices.Clone(s.ops)
	slices.SortStableFunc(landed, func(a, b *op) int { return int(a.landed - b.landed) })
	for _, o := range landed {
		switch {
		case o.landed == 0:
			c.Pending = append(c.Pending, cacheEntry{Key: o.key, Value: o.value, Delete: o.value == nil})
		case o.value == nil:
			delete(state, o.key)
		default:
			state[o.key] = o.value
		}
	}
	s.dirty = false
	s.mu.Unlock()
	for k, v := range state {
		c.Entries = append(c.Entries, cacheEntry{Key: k, Value: v})
	}
	slices.SortFunc(c.Entries, func(a, b cacheEntry) int { return strings.Compare(a.Key, b.Key) })
	data, err := json.Marshal(&c)
	if err != nil {
		s.log.Error().Err(err).Msg("etcdstore: encoding the cache file")
		return
	}
	defer clear(data)
	err = os.MkdirAll(filepath.Dir(s.opts.CacheFile), 0o700)
	if err == nil {
		err = privatefile.WriteAtomic(s.opts.CacheFile, data, 0o600)
	}
	if err != nil {
		s.log.Error().Err(err).Str("path", s.opts.CacheFile).Msg("etcdstore: cache file not written")
		s.mu.Lock()
		s.dirty = true
		s.mu.Unlock()
	}
}
