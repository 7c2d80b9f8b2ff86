package config

import (
	"reflect"
	"testing"
	"time"
)

// Override takes each flag given beside --config, and only those: a
// value from a flag drops the file position of its mapping, and two
// admin flags at once both apply.
func TestOverride(t *testing.T) {
	file := func() Config {
		return Config{
			Log:   Log{Format: "json", Level: "info"},
			Grace: Duration(time.Second),
			Admin: Admin{Where: "w.yaml:3: admin", Listen: "unix:a.sock", TokenFile: "/t", PauseMaxPending: 1, PauseMaxWaiters: 2},
			Store: "file:/s",
			StoreEtcd: StoreEtcd{Where: "w.yaml:9: store_etcd", CAFile: "/ca", CertFile: "/cert", KeyFile: "/key",
				Username: "u", PasswordFile: "/pw", CacheFile: "/cache", Instance: "i"},
		}
	}
	flags := Config{
		Log:   Log{Format: "console", Level: "debug"},
		Grace: Duration(2 * time.Second),
		Admin: Admin{Listen: "127.0.0.1:9", TokenFile: "/t2", PauseMaxPending: 3, PauseMaxWaiters: 4},
		Store: "file:/s2",
		StoreEtcd: StoreEtcd{CAFile: "/ca2", CertFile: "/cert2", KeyFile: "/key2",
			Username: "u2", PasswordFile: "/pw2", CacheFile: "/cache2", Instance: "i2"},
	}
	// Nothing set: the file's values stay, positions included.
	c := file()
	c.Override(flags, nil)
	if !reflect.DeepEqual(c, file()) {
		t.Fatalf("nothing set changed %+v", c)
	}
	all := map[string]bool{}
	for _, n := range []string{"log-format", "log-level", "grace", "admin", "admin-token-file", "pause-max-pending",
		"pause-max-waiters", "store", "store-etcd-ca-file", "store-etcd-cert-file", "store-etcd-key-file",
		"store-etcd-username", "store-etcd-password-file", "store-etcd-cache-file", "store-etcd-instance"} {
		all[n] = true
	}
	c = file()
	c.Override(flags, all)
	if !reflect.DeepEqual(c, flags) {
		t.Fatalf("every flag set:\n got %+v\nwant %+v", c, flags)
	}
	// One admin flag: the other admin value stays, the position goes.
	c = file()
	c.Override(flags, map[string]bool{"admin-token-file": true})
	want := file()
	want.Admin.TokenFile, want.Admin.Where = "/t2", ""
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("--admin-token-file:\n got %+v\nwant %+v", c, want)
	}
}
