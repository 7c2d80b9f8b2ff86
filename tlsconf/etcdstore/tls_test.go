package etcdstore

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/tlsconf"
)

// A TLS cluster with client certificates: a Store with the right
// configuration works and propagates; a wrong one fails at Open with an
// error that says what is wrong (unknown authority, no client
// certificate, plain TCP to a TLS port), in DialTimeout.
func TestTLSCluster(t *testing.T) {
	c := testpeer.StartEtcd(t, testpeer.EtcdOptions{TLS: true})
	ctx := context.Background()
	a := openStore(t, c, "/tls", nil)
	b := openStore(t, c, "/tls", func(o *Options) { o.TLS.MinVersion = tls.VersionTLS10 }) // raised to 1.2
	bw := b.Watch(ctx)
	if err := a.PutPin(ctx, tlsconf.PinEntry{Server: "tls.example:443", Pin: testPin(1)}); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, bw, time.Second, "a pin put over TLS")
	if !hasPin(t, b, "tls.example:443", testPin(1)) {
		t.Fatal("pin not seen over TLS")
	}

	good := c.ClientTLS()
	for _, tc := range []struct {
		name string
		tls  *tls.Config
		want string
	}{
		{"unknown CA", &tls.Config{Certificates: good.Certificates}, "certificate"},
		{"no client certificate", &tls.Config{RootCAs: good.RootCAs}, "certificate"},
		{"plain TCP", nil, "speaks TLS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			s, err := Open(ctx, storeOptions(t, c, "/tls", func(o *Options) {
				o.TLS = tc.tls
				o.DialTimeout = time.Second
			}))
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("Open failed after %v", d)
			}
		})
	}
}
