package psk

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseKeyFile(t *testing.T) {
	keys, err := ParseKeyFile([]byte("# comment\n\n device-1 : " + testKeyHex + "\nClient_identity:" + strings.ToUpper(testKeyHex) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || !bytes.Equal(keys["device-1"], testKey(t)) || !bytes.Equal(keys[testIdentity], testKey(t)) {
		t.Fatalf("keys %v", len(keys))
	}
	for name, text := range map[string]string{
		"no colon":      "device " + testKeyHex,
		"not hex":       "a:zz" + testKeyHex,
		"short key":     "a:" + testKeyHex[:30],
		"long key":      "a:" + strings.Repeat("00", MaxKeyLength+1),
		"empty id":      ":" + testKeyHex,
		"long id":       strings.Repeat("i", MaxIdentityLength+1) + ":" + testKeyHex,
		"duplicate id":  "a:" + testKeyHex + "\na:" + testKeyHex,
		"password text": "a:correct horse battery staple",
	} {
		_, err := ParseKeyFile([]byte(text))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), testKeyHex[:30]) {
			t.Errorf("%s: the error shows the key: %v", name, err)
		}
	}
}

func writeFile(t *testing.T, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestKeyFileReloadAndPermissions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "psk.txt")
	writeFile(t, path, "a:"+testKeyHex+"\n", 0o644)
	if _, err := OpenKeyFile(path, nil); !errors.Is(err, ErrInsecureKeyFile) {
		t.Fatalf("world-readable file: %v", err)
	}
	writeFile(t, path, "a:"+testKeyHex+"\n", 0o640)
	if _, err := OpenKeyFile(path, nil); !errors.Is(err, ErrInsecureKeyFile) {
		t.Fatalf("group-readable file: %v", err)
	}
	writeFile(t, path, "a:"+testKeyHex+"\n", 0o600)
	f, err := OpenKeyFile(path, &KeyFileOptions{CheckInterval: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if k, _ := f.GetKey(ctx, []byte("a")); !bytes.Equal(k, testKey(t)) {
		t.Fatal("key a")
	}
	if k, _ := f.GetKey(ctx, []byte("b")); k != nil {
		t.Fatal("unknown identity has a key")
	}
	// A new identity appears after a change.
	newKey := strings.Repeat("42", 32)
	writeFile(t, path, "a:"+testKeyHex+"\nb:"+newKey+"\n", 0o600)
	bump(t, path)
	if k, _ := f.GetKey(ctx, []byte("b")); !bytes.Equal(k, mustHex(t, newKey)) {
		t.Fatal("b not reloaded")
	}
	// A broken file keeps the previous keys.
	writeFile(t, path, "garbage\n", 0o600)
	bump(t, path)
	if k, _ := f.GetKey(ctx, []byte("b")); k == nil {
		t.Fatal("a bad reload dropped the keys")
	}
	// So does a file that became readable by others.
	writeFile(t, path, "c:"+testKeyHex+"\n", 0o604)
	bump(t, path)
	if k, _ := f.GetKey(ctx, []byte("c")); k != nil {
		t.Fatal("an insecure file was loaded")
	}
	if got := f.Identities(); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("identities %v", got)
	}
}

// bump moves the modification time forward so a reload is noticed even
// on file systems with coarse timestamps.
func bump(t *testing.T, path string) {
	t.Helper()
	next := time.Now().Add(time.Duration(1+time.Now().UnixNano()%1000) * time.Second)
	if err := os.Chtimes(path, next, next); err != nil {
		t.Fatal(err)
	}
}

func TestClientKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key.hex")
	writeFile(t, path, testKeyHex+"\n", 0o644)
	if _, err := ClientKeyFile([]byte("dev"), path); !errors.Is(err, ErrInsecureKeyFile) {
		t.Fatalf("world-readable: %v", err)
	}
	writeFile(t, path, testKeyHex[:20]+"\n", 0o600)
	if _, err := ClientKeyFile([]byte("dev"), path); !errors.Is(err, ErrKeyRefused) {
		t.Fatalf("short key: %v", err)
	}
	writeFile(t, path, testKeyHex+"\n", 0o600)
	if _, err := ClientKeyFile(bytes.Repeat([]byte("i"), MaxIdentityLength+1), path); !errors.Is(err, ErrKeyRefused) {
		t.Fatalf("long identity: %v", err)
	}
	get, err := ClientKeyFile([]byte(testIdentity), path)
	if err != nil {
		t.Fatal(err)
	}
	// End to end with a KeyFile server.
	spath := filepath.Join(dir, "psk.txt")
	writeFile(t, spath, testIdentity+":"+testKeyHex+"\n", 0o600)
	kf, err := OpenKeyFile(spath, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, s, cerr, serr := handshakePair(t, &ClientConfig{GetKey: get}, &ServerConfig{GetKey: kf.GetKey})
	if cerr != nil || serr != nil {
		t.Fatal(cerr, serr)
	}
	echoOnce(t, c, s, []byte("x"))
	c.Close()
	s.Close()
}

func TestServerHook(t *testing.T) {
	long := bytes.Repeat([]byte{1}, MaxKeyLength+1)
	for _, tc := range []struct {
		name  string
		hook  func(context.Context, []byte) ([]byte, error)
		alert Alert
	}{
		{"empty key refuses", func(context.Context, []byte) ([]byte, error) { return nil, nil }, AlertHandshakeFailure},
		{"hook error", func(context.Context, []byte) ([]byte, error) { return nil, errors.New("database down") }, AlertInternalError},
		{"short key rejected", func(context.Context, []byte) ([]byte, error) { return make([]byte, 15), nil }, AlertInternalError},
		{"long key rejected", func(context.Context, []byte) ([]byte, error) { return long, nil }, AlertInternalError},
		{"lookup deadline", func(ctx context.Context, _ []byte) ([]byte, error) {
			if _, ok := ctx.Deadline(); !ok {
				return nil, errors.New("no deadline")
			}
			<-ctx.Done()
			return nil, ctx.Err()
		}, AlertInternalError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scfg := &ServerConfig{GetKey: tc.hook, KeyLookupTimeout: 50 * time.Millisecond}
			_, _, cerr, serr := handshakePair(t, testClientConfig(t), scfg)
			if a, remote, ok := alertOf(serr); !ok || remote || a != tc.alert {
				t.Fatalf("server error %v, want sent %v", serr, tc.alert)
			}
			if a, remote, ok := alertOf(cerr); !ok || !remote || a != tc.alert {
				t.Fatalf("client error %v, want received %v", cerr, tc.alert)
			}
		})
	}
	// The hook sees each offered identity, and identities over the maximum
	// never reach it.
	var seen []string
	scfg := &ServerConfig{GetKey: func(_ context.Context, id []byte) ([]byte, error) {
		seen = append(seen, string(id))
		return nil, nil
	}}
	ccfg := testClientConfig(t)
	handshakePair(t, ccfg, scfg)
	if len(seen) != 1 || seen[0] != testIdentity {
		t.Fatalf("hook saw %q", seen)
	}
}
