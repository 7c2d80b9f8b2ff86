package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// The trust store location: the default file in the state directory,
// file:PATH and bare paths; etcd:// is recognised and refused as not
// supported yet; other schemes and an empty file: are errors.
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
	} {
		got, err := ParseStore(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseStore(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"etcd://10.0.0.1:2379,10.0.0.2:2379/wssproxy": "the etcd backend is not supported yet",
		"ETCD://h:2379/p": "not supported yet",
		"file:":           "needs a path",
		"redis://h/0":     `unknown scheme "redis"`,
	} {
		_, err := ParseStore(in)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseStore(%q): %v, want %q", in, err, msg)
		}
		if strings.HasPrefix(strings.ToLower(in), "etcd") && !errors.Is(err, ErrStoreNotSupported) {
			t.Errorf("ParseStore(%q): %v is not ErrStoreNotSupported", in, err)
		}
	}
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "")
	if _, err := ParseStore(""); err == nil || !strings.Contains(err.Error(), "give file:PATH") {
		t.Errorf("no state directory: %v", err)
	}
}

// The store key of a file: a relative path is relative to the file's
// folder; etcd:// is refused naming the line; --store overrides the file.
func TestConfigStore(t *testing.T) {
	body := func(store string) []byte {
		return []byte(y("store: "+store, "listeners:", "  - listen: 127.0.0.1:0", "    routes:", "      - upstream: ws://127.0.0.1:1/"))
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
	_, err = Parse(body("etcd://127.0.0.1:2379/wssproxy"), "w.yaml", dir)
	if err == nil || !strings.Contains(err.Error(), "w.yaml:1") || !strings.Contains(err.Error(), "store") || !strings.Contains(err.Error(), "not supported yet") {
		t.Fatalf("etcd store: %v", err)
	}
	_, err = Parse(body(`""`), "w.yaml", dir)
	if err == nil || !strings.Contains(err.Error(), "w.yaml:1") {
		t.Fatalf("empty store: %v", err)
	}
	c.Override(Config{Store: "file:/other"}, map[string]bool{"store": true})
	if c.Store != "file:/other" {
		t.Fatalf("override: %q", c.Store)
	}
}
