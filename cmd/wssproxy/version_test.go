package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// TestVersionBinary builds the real binary twice, as a user would: with
// -ldflags "-X main.version=…" that version is printed; without, the
// module's pseudo-version and the checkout's Git revision (with its dirty
// flag) are, from the build information go build stamps.
func TestVersionBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary twice")
	}
	goBin := testpeer.LookPath(t, "go", "https://go.dev/dl/")
	git := testpeer.LookPath(t, "git", "apt-get install git")
	gitOut := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command(git, args...)
		cmd.Dir = dir
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("git %s: %v", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(b))
	}
	if err := exec.Command(git, "rev-parse", "HEAD").Run(); err != nil {
		t.Skipf("not in a Git checkout (%v): no revision to compare", err)
	}
	top := gitOut(".", "rev-parse", "--show-toplevel")
	head := gitOut(".", "rev-parse", "HEAD")
	dirty := gitOut(".", "status", "--porcelain") != ""
	src := filepath.Join(top, "cmd", "wssproxy")
	if fi, err := os.Stat(filepath.Join(top, ".git")); err != nil || !fi.IsDir() {
		// go build stamps no revision in a Git worktree or submodule
		// (.git is a file there): build from a plain clone of the same
		// commit carrying the same uncommitted changes.
		clone := filepath.Join(t.TempDir(), "src")
		gitOut(".", "clone", "-q", "--shared", "--no-checkout", top, clone)
		gitOut(clone, "checkout", "-q", "--detach", head)
		// The diff as git prints it: trimming it (gitOut) cuts a last
		// context line that is blank, and git apply refuses the patch.
		diff, err := exec.Command(git, "diff", "HEAD", "--binary").Output()
		if err != nil {
			t.Fatalf("git diff: %v", err)
		}
		if len(diff) > 0 {
			apply := exec.Command(git, "apply", "--binary", "-")
			apply.Dir, apply.Stdin = clone, bytes.NewReader(diff)
			if b, err := apply.CombinedOutput(); err != nil {
				t.Fatalf("git apply: %v\n%s", err, b)
			}
		}
		for _, f := range strings.Fields(gitOut(top, "ls-files", "--others", "--exclude-standard")) {
			b, err := os.ReadFile(filepath.Join(top, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Dir(filepath.Join(clone, f)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(clone, f), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		src = filepath.Join(clone, "cmd", "wssproxy")
	}
	dir := t.TempDir()
	build := func(name string, extra ...string) string {
		t.Helper()
		out := filepath.Join(dir, name)
		// -buildvcs=true: stamp the revision even where GOFLAGS says
		// -buildvcs=false (the default, auto, stamps it in a checkout).
		args := append(append([]string{"build", "-buildvcs=true", "-o", out}, extra...), ".")
		cmd := exec.Command(goBin, args...)
		cmd.Dir = src
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		b, err := exec.Command(out, "version").CombinedOutput()
		if err != nil {
			t.Fatalf("%s version: %v\n%s", name, err, b)
		}
		return string(b)
	}

	plain := build("plain")
	first, _, _ := strings.Cut(plain, "\n")
	// A pseudo-version (v0.0.0-<time>-<12 hex of the revision>, +dirty
	// when modified) or a tag's version when HEAD is tagged.
	if !strings.HasPrefix(first, "wssproxy v") {
		t.Errorf("plain build: first line %q, want the module's version", first)
	}
	if strings.HasPrefix(first, "wssproxy v0.0.0-") && !strings.Contains(first, head[:12]) {
		t.Errorf("plain build: pseudo-version %q does not name the revision %s", first, head[:12])
	}
	wantRev := "revision:    " + head
	if dirty {
		wantRev += " (modified: uncommitted changes)"
	}
	if !strings.Contains(plain, wantRev+"\n") || !strings.Contains(plain, "commit time: 20") || !strings.Contains(plain, "go:          go1.") {
		t.Errorf("plain build (dirty=%v):\n%s\nwant the line %q, a commit time and the Go version", dirty, plain, wantRev)
	}

	ld := build("ldflags", "-ldflags", "-X main.version=v9.8.7-test")
	if !strings.HasPrefix(ld, "wssproxy v9.8.7-test\n") || !strings.Contains(ld, wantRev+"\n") {
		t.Errorf("-ldflags build:\n%s\nwant version v9.8.7-test and %q", ld, wantRev)
	}
}

// TestVersionCommand: "version" and "--version" print the same text.
func TestVersionCommand(t *testing.T) {
	var a, b bytes.Buffer
	if run(context.Background(), []string{"version"}, &a, &a) != 0 || run(context.Background(), []string{"--version"}, &b, &b) != 0 {
		t.Fatal("version failed")
	}
	if a.String() != b.String() || !strings.HasPrefix(a.String(), "wssproxy ") || !strings.Contains(a.String(), "\ngo:") {
		t.Fatalf("version %q, --version %q", a.String(), b.String())
	}
}
