package deploy_test

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// instruction is one Containerfile instruction: its keyword and the rest
// of the line, continuations joined.
type instruction struct{ op, args string }

func readContainerfile(t *testing.T) []instruction {
	t.Helper()
	f, err := os.Open("Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if c, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(c + " ")
			continue
		}
		cur.WriteString(line)
		op, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(op), strings.TrimSpace(args)})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  string
	buildDir  string
)

// staticBinary builds wssproxy with the Containerfile's own build
// command (its RUN line with "go build", output redirected to a temporary
// folder, VERSION=v0.0.0-deploy-test) and returns the binary. The other
// tests of this package run that binary.
func staticBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		var cmd string
		for _, in := range readContainerfile(t) {
			if in.op == "RUN" && strings.Contains(in.args, "go build") {
				cmd = in.args
			}
		}
		if cmd == "" {
			buildErr = "Containerfile has no RUN line with go build"
			return
		}
		dir, err := os.MkdirTemp("", "wssproxy-deploy-")
		if err != nil {
			buildErr = err.Error()
			return
		}
		buildDir = dir
		if !strings.Contains(cmd, "-o /out/wssproxy") {
			buildErr = "the build command does not write /out/wssproxy: " + cmd
			return
		}
		cmd = strings.ReplaceAll(cmd, "/out/", dir+"/")
		sh := exec.Command("sh", "-c", cmd)
		sh.Dir = filepath.Join("..", "..") // the build context: the repository root
		sh.Env = append(os.Environ(), "VERSION=v0.0.0-deploy-test")
		if out, err := sh.CombinedOutput(); err != nil {
			buildErr = "running the Containerfile's build command " + cmd + ": " + err.Error() + "\n" + string(out)
			return
		}
		buildBin = filepath.Join(dir, "wssproxy")
	})
	if buildErr != "" {
		t.Fatal(buildErr)
	}
	return buildBin
}

// TestContainerfile: a multi-stage build whose last stage is distroless
// or scratch, runs as a non-root user, keeps the state directory in a
// volume; the build command in it, run as written, gives a static
// (cgo-free, no interpreter, no shared library) binary that runs there.
func TestContainerfile(t *testing.T) {
	testpeer.LookPath(t, "sh", "apt-get install dash")
	ins := readContainerfile(t)
	var froms []string
	var user, volume, env, entry string
	copied := false
	for _, in := range ins {
		switch in.op {
		case "FROM":
			froms = append(froms, in.args)
		case "USER":
			user = in.args
		case "VOLUME":
			volume = in.args
		case "ENV":
			env += in.args + "\n"
		case "ENTRYPOINT":
			entry = in.args
		case "COPY":
			copied = copied || strings.HasPrefix(in.args, "--from=build /out/wssproxy ")
		}
	}
	if len(froms) < 2 || !strings.HasSuffix(froms[0], " AS build") {
		t.Errorf("stages %q: want a build stage named build, then the runtime", froms)
	}
	if last := froms[len(froms)-1]; !strings.Contains(last, "distroless/static") && last != "scratch" {
		t.Errorf("runtime stage %q: want distroless/static or scratch", last)
	}
	if u, _, _ := strings.Cut(user, ":"); user == "" || u == "0" || u == "root" {
		t.Errorf("USER %q: want a non-root user", user)
	}
	if !strings.Contains(volume, `"/var/lib/wssproxy"`) || !strings.Contains(env, "XDG_STATE_HOME=/var/lib") {
		t.Errorf("VOLUME %q, ENV %q: want the state directory $XDG_STATE_HOME/wssproxy = /var/lib/wssproxy in a volume", volume, env)
	}
	if !copied || !strings.Contains(entry, "/usr/local/bin/wssproxy") {
		t.Errorf("the runtime stage does not copy /out/wssproxy and run it (ENTRYPOINT %q)", entry)
	}

	bin := staticBinary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary has a %v program header: not static", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs %q", libs)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "wssproxy v0.0.0-deploy-test\n") {
		t.Errorf("version: %v\n%s", err, out)
	}
}
