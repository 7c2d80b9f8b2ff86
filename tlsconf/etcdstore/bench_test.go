package etcdstore

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkGetKey measures the PSK server's key lookup (one per
// handshake) on a Store holding 10,000 identities: a map lookup in the
// published view and a copy of the key, without a lock.
func BenchmarkGetKey(b *testing.B) {
	c := cacheFile{Version: cacheVersion, Prefix: "/bench"}
	for i := range 10000 {
		c.Entries = append(c.Entries, cacheEntry{Key: "psk/dev-" + strconv.Itoa(i), Value: []byte(hex.EncodeToString(testKey(byte(i))))})
	}
	data, _ := json.Marshal(&c)
	path := filepath.Join(b.TempDir(), "cache")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	ln := deadEndpointTB(b)
	s, err := Open(context.Background(), &Options{Endpoints: []string{ln}, Prefix: "/bench", CacheFile: path, DialTimeout: 100 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	id := []byte("dev-4242")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if k, _ := s.GetKey(ctx, id); k == nil {
				b.Fatal("identity not found")
			}
		}
	})
}
