package etcdstore

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/wssproxy/wssproxy/tlsconf"
)

// deadEndpoint returns a loopback address nothing listens on.
func deadEndpoint(t *testing.T) string { return deadEndpointTB(t) }

func deadEndpointTB(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// The cache file decides whether Open succeeds while etcd is unreachable:
// a usable one gives a degraded Store serving it (and its queued writes),
// none, an insecure, a corrupt or another prefix's one is an error naming
// the problem.
func TestOpenFromCache(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dead := deadEndpoint(t)
	opts := func(cache string) *Options {
		return &Options{Endpoints: []string{dead}, Prefix: "/c", CacheFile: cache,
			DialTimeout: 300 * time.Millisecond, OpTimeout: 2 * time.Second,
			Logger: zerolog.New(zerolog.NewTestWriter(t))}
	}
	write := func(name string, mode os.FileMode, v any) string {
		path := filepath.Join(dir, name)
		data, ok := v.([]byte)
		if !ok {
			data, _ = json.Marshal(v)
		}
		if err := os.WriteFile(path, data, mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	pinJSON, _ := json.Marshal(tlsconf.PinEntry{Server: "c.example:443", Pin: testPin(1)})
	good := cacheFile{Version: cacheVersion, Prefix: "/c", Revision: 7, Entries: []cacheEntry{
		{Key: pinKey("c.example:443", testPin(1)), Value: pinJSON},
		{Key: "psk/dev", Value: []byte(hex.EncodeToString(testKey(1)))},
	}, Pending: []cacheEntry{
		{Key: "psk/queued", Value: []byte(hex.EncodeToString(testKey(2)))},
		{Key: "psk/dev", Delete: true},
	}}
	other := good
	other.Prefix = "/elsewhere"

	for _, tc := range []struct {
		name, path, want string
		is               error
	}{
		{"no cache", "", "unreachable", nil},
		{"cache not there yet", filepath.Join(dir, "none"), "no cache file yet", nil},
		{"insecure", write("insecure", 0o644, good), "chmod 600", ErrInsecureCacheFile},
		{"corrupt", write("corrupt", 0o600, []byte("{not json")), "cache file " + filepath.Join(dir, "corrupt") + ": invalid character", nil},
		{"other prefix", write("other", 0o600, other), `holds prefix "/elsewhere"`, nil},
	} {
		start := time.Now()
		s, err := Open(ctx, opts(tc.path))
		if err == nil {
			s.Close()
			t.Fatalf("%s: Open succeeded", tc.name)
		}
		if !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: Open failed after %v", tc.name, d)
		}
	}

	path := write("good", 0o600, good)
	s, err := Open(ctx, opts(path))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := s.Status()
	if !st.Degraded || st.PendingWrites != 2 || st.Err == nil || st.Revision != 7 || s.Client() == nil {
		t.Fatalf("status %+v", st)
	}
	if !hasPin(t, s, "C.example:443", testPin(1)) {
		t.Fatal("cached pin not served")
	}
	if ids, _ := s.PSKIdentities(ctx); len(ids) != 1 || ids[0] != "queued" {
		t.Fatalf("identities %q (the queued delete and put applied)", ids)
	}
	// A write while degraded returns at once; the file keeps it.
	start := time.Now()
	if err := s.PutPSK(ctx, "later", testKey(3)); err != nil || time.Since(start) > 500*time.Millisecond {
		t.Fatalf("queued write: %v after %v", err, time.Since(start))
	}
	var saved cacheFile
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &saved); err != nil || len(saved.Pending) != 3 || saved.Pending[2].Key != "psk/later" {
		t.Fatalf("saved pending %+v %v", saved.Pending, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("cache mode %v", fi.Mode())
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".good.tmp*")); len(m) != 0 {
		t.Fatalf("temporary files left: %v", m)
	}

	// Watch channels end with their context.
	wctx, cancel := context.WithCancel(ctx)
	ch := s.Watch(wctx)
	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			if _, ok := <-ch; ok {
				t.Fatal("Watch channel not closed")
			}
		}
	case <-time.After(time.Second):
		t.Fatal("Watch channel not closed after its context ended")
	}
}
