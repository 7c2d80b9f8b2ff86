package tlsconf

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func testPin(i int) Pin {
	return Pin{Kind: PinSPKI, Sum: sha256.Sum256([]byte(strconv.Itoa(i)))}
}

// Entries survive a round trip through the file with every field; a
// person's comments and blank lines are kept when it is rewritten; the
// file is 0600 in a 0700 directory, replaced by rename (no temporary file
// left) each time.
func TestFileStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, DefaultPinsFileName)
	s, err := NewFileStore(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Pins(ctx); err != nil || len(got) != 0 {
		t.Fatalf("missing file: %v %v", got, err)
	}
	added := time.Date(2026, 11, 28, 16, 0, 0, 0, time.UTC)
	a := PinEntry{Server: "upstream.example:443", Pin: testPin(1), Kinds: []ErrorKind{UnknownAuthority, Expired},
		Added: added, Source: SourceResume, By: "127.0.0.1:5555", Note: "CN=upstream\nnext"}
	b := PinEntry{Server: "other.example:8443", Pin: testPin(2), Source: SourceTOFU}
	for _, e := range []PinEntry{a, b} {
		if err := s.PutPin(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v %v", fi, err)
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v", di.Mode())
	}
	data, _ := os.ReadFile(path)
	want := "upstream.example:443 " + testPin(1).String() + " kinds=unknown-authority,expired added=2026-11-28T16:00:00Z source=resume by=127.0.0.1:5555 # CN=upstream next\n" +
		"other.example:8443 " + testPin(2).String() + " source=tofu\n"
	if string(data) != want {
		t.Fatalf("file:\n%s\nwant:\n%s", data, want)
	}
	got, err := s.PinsFor(ctx, "UPSTREAM.example:443")
	a.Note, a.Line = "CN=upstream next", 1
	if err != nil || len(got) != 1 || fmt.Sprint(got[0]) != fmt.Sprint(a) {
		t.Fatalf("PinsFor: %+v %v, want %+v", got, err, a)
	}

	// A person adds comments; a rewrite keeps them and the lines' order.
	edited := "# my servers\n\n" + string(data) + "edited.example:443 " + testPin(3).String() + "   # by hand\n"
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(path)
	if ok, err := s.DeletePin(ctx, "other.example:8443", testPin(2)); !ok || err != nil {
		t.Fatalf("delete: %v %v", ok, err)
	}
	if ok, err := s.DeletePin(ctx, "other.example:8443", testPin(2)); ok || err != nil {
		t.Fatalf("delete again: %v %v", ok, err)
	}
	after, _ := os.Stat(path)
	if os.SameFile(before, after) {
		t.Fatal("file rewritten in place, not replaced by rename")
	}
	data, _ = os.ReadFile(path)
	want = "# my servers\n\nupstream.example:443 " + testPin(1).String() + " kinds=unknown-authority,expired added=2026-11-28T16:00:00Z source=resume by=127.0.0.1:5555 # CN=upstream next\n" +
		"edited.example:443 " + testPin(3).String() + "   # by hand\n"
	if string(data) != want {
		t.Fatalf("after delete:\n%s\nwant:\n%s", data, want)
	}
	// Put of an existing server and pin replaces its line, keeping its note.
	if err := s.PutPin(ctx, PinEntry{Server: "edited.example:443", Pin: testPin(3), Source: SourceOperator}); err != nil {
		t.Fatal(err)
	}
	all, _ := s.Pins(ctx)
	if len(all) != 2 || all[1].Source != SourceOperator || all[1].Note != "by hand" || all[1].Line != 4 {
		t.Fatalf("replaced: %+v", all)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != DefaultPinsFileName && e.Name() != DefaultPinsFileName+".lock" {
			t.Fatalf("left in the directory: %s", e.Name())
		}
	}
}

// A malformed line is an error naming the file and line; nothing is
// written over a file that cannot be read; a file the group or others
// may access is refused; invalid entries are refused before any write.
func TestFileStoreBadInput(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pins")
	s, _ := NewFileStore(path, nil)
	good := "ok.example:443 " + testPin(1).String() + "\n"
	for _, c := range []struct{ line, want string }{
		{"lonely.example:443", `want "HOST:PORT PIN`},
		{"x.example:443 sha256/notbase64", "sha256/notbase64"},
		{"x.example:443 " + testPin(1).String() + " extra", `"extra"`},
		{"x.example:443 " + testPin(1).String() + " kinds=nonsense", "nonsense"},
		{"x.example:443 " + testPin(1).String() + " added=yesterday", "RFC 3339"},
		{"x.example:443 " + testPin(1).String() + " source=friend", "friend"},
		{"x.example:443 " + testPin(1).String() + " colour=red", `unknown option "colour"`},
		{"x.example:443 " + testPin(1).String() + " by=a by=b", "each option once"},
	} {
		content := "# comment\n" + good + c.line + "\n"
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := s.Pins(ctx)
		if err == nil || !strings.Contains(err.Error(), path+":3: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v", c.line, err)
		}
		if err := s.PutPin(ctx, PinEntry{Server: "new.example:443", Pin: testPin(9)}); err == nil {
			t.Errorf("%q: put over a malformed file succeeded", c.line)
		}
		if data, _ := os.ReadFile(path); string(data) != content {
			t.Errorf("%q: malformed file changed to %q", c.line, data)
		}
	}

	os.WriteFile(path, []byte(good), 0o600)
	os.Chmod(path, 0o644)
	if _, err := s.Pins(ctx); !errors.Is(err, ErrInsecurePinsFile) || !strings.Contains(err.Error(), path) {
		t.Fatalf("0644 file: %v", err)
	}
	os.Chmod(path, 0o600)
	for _, e := range []PinEntry{
		{Server: "", Pin: testPin(1)},
		{Server: "two words", Pin: testPin(1)},
		{Server: "h:1#x", Pin: testPin(1)},
		{Server: "h:1"},
		{Server: "h:1", Pin: testPin(1), By: "a b"},
		{Server: "h:1", Pin: testPin(1), Kinds: []ErrorKind{0}},
	} {
		if err := s.PutPin(ctx, e); err == nil {
			t.Errorf("%+v stored", e)
		}
	}
	if data, _ := os.ReadFile(path); string(data) != good {
		t.Fatalf("file changed by refused puts: %q", data)
	}
	if _, err := NewFileStore("", nil); err == nil {
		t.Fatal("empty path accepted")
	}
	// A lock held elsewhere: the write waits and gives up with its context.
	unlock, err := lockFile(ctx, path+".lock")
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := s.PutPin(short, PinEntry{Server: "h:1", Pin: testPin(1)}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("put under a held lock: %v", err)
	}
	unlock()
}

// The environment variables that make the test binary a pins writer.
const (
	envWriterFile  = "WSSPROXY_TEST_PINS_WRITER_FILE"
	envWriterFirst = "WSSPROXY_TEST_PINS_WRITER_FIRST"
)

// TestPinsWriterProcess is not a test: run by
// TestFileStoreConcurrentProcesses as a separate process, it puts 50 pins
// numbered from $WSSPROXY_TEST_PINS_WRITER_FIRST.
func TestPinsWriterProcess(t *testing.T) {
	file := os.Getenv(envWriterFile)
	if file == "" {
		t.Skip("helper process for TestFileStoreConcurrentProcesses")
	}
	first, _ := strconv.Atoi(os.Getenv(envWriterFirst))
	s, _ := NewFileStore(file, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := first; i < first+50; i++ {
		if err := s.PutPin(ctx, PinEntry{Server: "h" + strconv.Itoa(i) + ":443", Pin: testPin(i), Source: SourceOperator}); err != nil {
			t.Fatal(err)
		}
	}
}

// Two processes and this one writing the same file at once lose no
// entry: each write reads the file again under the lock.
func TestFileStoreConcurrentProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pins")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	outs := make([][]byte, 2)
	for p := range 2 {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], "-test.run=^TestPinsWriterProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), envWriterFile+"="+path, envWriterFirst+"="+strconv.Itoa(p*50))
			outs[p], errs[p] = cmd.CombinedOutput()
		})
	}
	s, _ := NewFileStore(path, nil)
	ctx := context.Background()
	for i := 100; i < 150; i++ {
		if err := s.PutPin(ctx, PinEntry{Server: "h" + strconv.Itoa(i) + ":443", Pin: testPin(i)}); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
	for p := range 2 {
		if errs[p] != nil || !strings.Contains(string(outs[p]), "PASS") {
			t.Fatalf("writer %d: %v\n%s", p, errs[p], outs[p])
		}
	}
	all, err := s.Pins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range all {
		seen[e.Server] = true
	}
	for i := range 150 {
		if !seen["h"+strconv.Itoa(i)+":443"] {
			t.Errorf("entry %d lost", i)
		}
	}
	if len(all) != 150 {
		t.Fatalf("%d entries, want 150", len(all))
	}
}

// Watch signals an edit by another writer (here a person's rewrite of
// the file) and its removal, and closes its channel when the context
// ends (goleak checks its goroutine is gone).
func TestFileStoreWatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pins")
	s, _ := NewFileStore(path, &FileStoreOptions{WatchInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	ch := s.Watch(ctx)
	expect := func(what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("no change seen after %s", what)
		}
	}
	if err := s.PutPin(ctx, PinEntry{Server: "a:1", Pin: testPin(1)}); err != nil {
		t.Fatal(err)
	}
	expect("create")
	if err := os.WriteFile(path, []byte("a:1 "+testPin(2).String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	expect("edit")
	os.Remove(path)
	expect("removal")
	cancel()
	select {
	case _, open := <-ch:
		if open {
			// a signal was pending; the close follows
			if _, open = <-ch; open {
				t.Fatal("channel open after cancel")
			}
		}
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed after cancel")
	}
}
