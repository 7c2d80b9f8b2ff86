package etcdstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
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
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("etcdstore: cache file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("etcdstore: cache file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("etcdstore: cache file %s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %v", ErrInsecureCacheFile, path, fi.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxCacheFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("etcdstore: cache file: %w", err)
	}
	defer clear(data)
	if len(data) > maxCacheFileSize {
		return nil, fmt.Errorf("etcdstore: cache file %s is larger than %d bytes", path, maxCacheFileSize)
	}
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
	slices.SortFunc(c.Entries, func(a, b cacheEntry) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	data, err := json.Marshal(&c)
	if err != nil {
		s.log.Error().Err(err).Msg("etcdstore: encoding the cache file")
		return
	}
	defer clear(data)
	if err := writeFileAtomic(s.opts.CacheFile, data); err != nil {
		s.log.Error().Err(err).Str("path", s.opts.CacheFile).Msg("etcdstore: cache file not written")
		s.mu.Lock()
		s.dirty = true
		s.mu.Unlock()
	}
}

// writeFileAtomic writes data to a temporary file (mode 0600) in path's
// directory, syncs it and renames it over path.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename: nothing to remove
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
