package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The trust store location: the default file in the state directory,
// file:PATH, bare paths and etcd://HOSTS/PREFIX; other schemes, an empty
// file:, an etcd URL without endpoints, with a bad endpoint or with
// credentials are errors.
func TestParseStore(t *testing.T) {
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	for in, want := range map[string]string{
		"":                      "file:" + filepath.Join(state, "wssproxy", DefaultStoreFileName),
		"file:/var/lib/w/pins":  "file:/var/lib/w/pins",
		"file:rel/../pins":      "file:pins",
		"/etc/wssproxy/pins":    "file:/etc/wssproxy/pins",
		"file:/a//b/":           "file:/a/b",
		"relative/upstream.txt": "file:relative/upstream.txt",
		"etcd://10.0.0.1:2379,10.0.0.2:2379/wssproxy": "etcd://10.0.0.1:2379,10.0.0.2:2379/wssproxy",
		"ETCD://h:2379/a/b/":                          "etcd://h:2379/a/b",
		"etcd://[::1]:2379":                           "etcd://[::1]:2379/wssproxy",
	} {
		got, err := ParseStore(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseStore(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	st, _ := ParseStore("etcd://a:1,b:2/p")
	if st.Kind != "etcd" || !slices.Equal(st.Endpoints, []string{"a:1", "b:2"}) || st.Prefix != "/p" {
		t.Errorf("etcd store %+v", st)
	}
	for in, msg := range map[string]string{
		"etcd:///wssproxy":        "no etcd endpoint",
		"etcd://h/p":              `endpoint "h": want HOST:PORT`,
		"etcd://h:1,,g:2/p":       `endpoint "": want HOST:PORT`,
		"etcd://user:pw@h:2379/p": "no credentials in the URL",
		"etcd://h:2379/p q":       "key prefix",
		"file:":                   "needs a path",
		"redis://h/0":             `unknown scheme "redis"`,
	} {
		_, err := ParseStore(in)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseStore(%q): %v, want %q", in, err, msg)
		}
	}
	if f, err := DefaultEtcdCacheFile("/wssproxy/prod"); err != nil || f != filepath.Join(state, "wssproxy", "etcd_cache_wssproxy_prod") {
		t.Errorf("default cache file %q %v", f, err)
	}
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "")
	if _, err := ParseStore(""); err == nil || !strings.Contains(err.Error(), "give file:PATH") {
		t.Errorf("no state directory: %v", err)
	}
	if _, err := DefaultEtcdCacheFile("/p"); err == nil || !strings.Contains(err.Error(), "cache_file") {
		t.Errorf("no state directory for the cache: %v", err)
	}
}

// The store key of a file: a relative path is relative to the file's
// folder; etcd:// is accepted with its store_etcd mapping (files resolved
// against the folder); --store overrides the file.
func TestConfigStore(t *testing.T) {
	body := func(store string, extra ...string) []byte {
		return []byte(y(append(append([]string{"store: " + store}, extra...), "listeners:", "  - listen: 127.0.0.1:0", "    routes:", "      - upstream: ws://127.0.0.1:1/")...))
	}
	dir := t.TempDir()
	c, err := Parse(body("file:state/pins"), filepath.Join(dir, "w.yaml"), dir)
	if err != nil || c.Store != "file:"+filepath.Join(dir, "state/pins") {
		t.Fatalf("relative store: %q %v", c.Store, err)
	}
	c, err = Parse(body("pins"), filepath.Join(dir, "w.yaml"), dir)
	if err != nil || c.Store != filepath.Join(dir, "pins") {
		t.Fatalf("bare relative store: %q %v", c.Store, err)
	}
	c, err = Parse(body("etcd://127.0.0.1:2379/wssproxy", "store_etcd:", "  ca_file: ca.pem", "  cert_file: c.pem", "  key_file: k.pem",
		"  username: proxy", "  password_file: pw", "  cache_file: cache", "  op_timeout: 1s", "  instance: edge-1"), "w.yaml", dir)
	e := c.StoreEtcd
	if err != nil || c.Store != "etcd://127.0.0.1:2379/wssproxy" || e.CAFile != filepath.Join(dir, "ca.pem") || e.KeyFile != filepath.Join(dir, "k.pem") ||
		e.PasswordFile != filepath.Join(dir, "pw") || e.CacheFile != filepath.Join(dir, "cache") || e.OpTimeout.D().Seconds() != 1 ||
		e.Username != "proxy" || e.Instance != "edge-1" || !e.TLS() || e.Where != "w.yaml:3: store_etcd" {
		t.Fatalf("etcd store: %+v %v", c, err)
	}
	_, err = Parse(body(`""`), "w.yaml", dir)
	if err == nil || !strings.Contains(err.Error(), "w.yaml:1") {
		t.Fatalf("empty store: %v", err)
	}
	c.Override(Config{Store: "file:/other", StoreEtcd: StoreEtcd{CacheFile: "/c2"}}, map[string]bool{"store": true, "store-etcd-cache-file": true})
	if c.Store != "file:/other" || c.StoreEtcd.CacheFile != "/c2" || c.StoreEtcd.CAFile == "" {
		t.Fatalf("override: %+v", c)
	}
}

// Bad store_etcd keys are refused naming the file, the line and the key.
func TestConfigStoreEtcdErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "pw"), []byte("secret\n"), 0o600)
	for _, tc := range []struct {
		lines []string
		want  string
	}{
		{[]string{"store_etcd:", "  cache_file: c"}, "w.yaml:1: store_etcd: needs store: etcd://"},
		{[]string{"store: etcd://h:1/p", "store_etcd:", "  cert_file: c.pem"}, "w.yaml:3: store_etcd.cert_file: cert_file and key_file go together"},
		{[]string{"store: etcd://h:1/p", "store_etcd:", "  key_file: k.pem"}, "w.yaml:3: store_etcd.key_file: cert_file and key_file go together"},
		{[]string{"store: etcd://h:1/p", "store_etcd:", "  username: u"}, "w.yaml:3: store_etcd.username: needs password_file"},
		{[]string{"store: etcd://h:1/p", "store_etcd:", "  password_file: pw"}, "w.yaml:3: store_etcd.password_file: needs username"},
		{[]string{"store: etcd://h:1/p", "store_etcd:", "  username: a b", "  password_file: pw"}, "w.yaml:3: store_etcd.username: \"a b\": no white space"},
		{[]string{"store: etcd://h:1/p", "store_etcd:", "  op_timeout: -1s"}, "w.yaml:3: store_etcd.op_timeout"},
		{[]string{"store: etcd://h:1/p", "store_etcd:", "  instance: a/b"}, "w.yaml:3: store_etcd.instance"},
		{[]string{"store: etcd://h:1/p", "store_etcd:", "  password: hunter2"}, "w.yaml:3: store_etcd.password: unknown key"},
		{[]string{"store: etcd://h/p"}, `w.yaml:1: store: trust store "etcd://h/p": endpoint "h": want HOST:PORT`},
	} {
		data := []byte(y(append(tc.lines, "listeners:", "  - listen: 127.0.0.1:0", "    routes:", "      - upstream: ws://127.0.0.1:1/")...))
		_, err := Parse(data, "w.yaml", dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.lines, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	// A missing file is named at its key by Load.
	cfg := filepath.Join(dir, "w.yaml")
	os.WriteFile(cfg, []byte(y("store: etcd://h:1/p", "store_etcd:", "  ca_file: nope.pem", "listeners:", "  - listen: 127.0.0.1:0", "    routes:", "      - upstream: ws://127.0.0.1:1/")), 0o600)
	if _, err := Load(cfg); err == nil || !strings.Contains(err.Error(), cfg+":3: store_etcd.ca_file") {
		t.Errorf("missing ca_file: %v", err)
	}
}

// psk_store: a TLS-PSK listener with the store's identities; not with
// psk_file.
func TestConfigPSKStore(t *testing.T) {
	dir := t.TempDir()
	base := []string{"store: etcd://h:1/p", "listeners:", "  - listen: 127.0.0.1:0", "    tls:"}
	routes := []string{"    routes:", "      - upstream: ws://127.0.0.1:1/"}
	c, err := Parse([]byte(y(slices.Concat(base, []string{"      psk_store: true", "      psk_tls12: true"}, routes)...)), "w.yaml", dir)
	if err != nil || !c.Listeners[0].PSKStore || !c.Listeners[0].PSKTLS12 {
		t.Fatalf("psk_store: %+v %v", c.Listeners, err)
	}
	_, err = Parse([]byte(y(slices.Concat(base, []string{"      psk_file: keys", "      psk_store: true"}, routes)...)), "w.yaml", dir)
	if err == nil || !strings.Contains(err.Error(), "w.yaml:6: listeners[0].tls.psk_store: excludes psk_file") {
		t.Fatalf("psk_store with psk_file: %v", err)
	}
}

// The --store-etcd-* and --psk-from-store flags: accepted with an etcd
// --store (or beside --config, whose file may name it), refused with a
// clear message otherwise.
func TestServeFlagsStoreEtcd(t *testing.T) {
	parse := func(args ...string) (Config, error) {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		sf := NewServeFlags(fs)
		if err := fs.Parse(args); err != nil {
			return Config{}, err
		}
		c, _, _, err := sf.Config()
		return c, err
	}
	c, err := parse("--listen", "127.0.0.1:0", "--store", "etcd://h:1/p", "--store-etcd-ca-file", "ca.pem",
		"--store-etcd-username", "u", "--store-etcd-password-file", "pw", "--psk-from-store")
	if err != nil || c.StoreEtcd.CAFile != "ca.pem" || c.StoreEtcd.Username != "u" || !c.Listeners[0].PSKStore {
		t.Fatalf("etcd flags: %+v %v", c, err)
	}
	if _, err := parse("--config", "w.yaml", "--store-etcd-cache-file", "/c"); err != nil {
		t.Fatalf("beside --config: %v", err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--store-etcd-ca-file", "ca.pem"}, "--store-etcd-ca-file needs --store etcd://"},
		{[]string{"--store", "etcd://h:1/p", "--store-etcd-cert-file", "c.pem"}, "--store-etcd-cert-file and --store-etcd-key-file go together"},
		{[]string{"--store", "etcd://h:1/p", "--store-etcd-username", "u"}, "only read from a file"},
		{[]string{"--store", "etcd://h:1/p", "--store-etcd-instance", "a/b"}, "--store-etcd-instance"},
		{[]string{"--psk-from-store"}, "--psk-from-store needs --store etcd://"},
		{[]string{"--store", "etcd://h:1/p", "--psk-from-store", "--psk-file", "k"}, "excludes --psk-file"},
		{[]string{"--config", "w.yaml", "--psk-from-store"}, "--config excludes --psk-from-store"},
	} {
		if _, err := parse(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// FuzzParseStore: any location either fails or parses to a Store whose
// String parses back to the same Store.
func FuzzParseStore(f *testing.F) {
	for _, s := range []string{"file:/a/b", "pins", "etcd://h:1,g:2/p/q", "etcd://[::1]:2379", "etcd://h:1/", "redis://x", "etcd://u@h:1/p"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" {
			return // the default file depends on the environment
		}
		st, err := ParseStore(s)
		if err != nil {
			return
		}
		again, err := ParseStore(st.String())
		if err != nil || again.String() != st.String() || again.Kind != st.Kind || !slices.Equal(again.Endpoints, st.Endpoints) || again.Prefix != st.Prefix {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, st, st.String(), again, err)
		}
	})
}
