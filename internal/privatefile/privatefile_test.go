package privatefile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errInsecure = errors.New("test: file is accessible by group or others")

// A write replaces the file whole with the mode asked for and leaves no
// temporary file; Read gives it back, and refuses what it must.
func TestWriteRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	for _, content := range []string{"first", "second, longer"} {
		if err := WriteAtomic(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := Read(path, 100, errInsecure)
		if err != nil || string(got) != content {
			t.Fatalf("Read: %q %v", got, err)
		}
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".secret.tmp*")); len(m) != 0 {
		t.Fatalf("temporary files left: %v", m)
	}
	if _, err := Read(path, 5, errInsecure); err == nil || !strings.Contains(err.Error(), "larger than 5 bytes") {
		t.Fatalf("limit: %v", err)
	}
	if _, err := Read(filepath.Join(dir, "none"), 100, errInsecure); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
	if _, err := Read(dir, 100, errInsecure); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("directory: %v", err)
	}
	if err := WriteAtomic(filepath.Join(dir, "shared"), []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(filepath.Join(dir, "shared"), 100, errInsecure); !errors.Is(err, errInsecure) || !strings.Contains(err.Error(), "-rw-r-----") {
		t.Fatalf("insecure: %v", err)
	}
	// A write into a missing directory fails and changes nothing.
	if err := WriteAtomic(filepath.Join(dir, "no", "such"), []byte("x"), 0o600); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}
