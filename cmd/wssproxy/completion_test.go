package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wssproxy/wssproxy/internal/cli"
	"github.com/wssproxy/wssproxy/internal/testpeer"
)

func completionScript(t *testing.T, shell string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"completion", shell}, &out, &errb); code != 0 {
		t.Fatalf("completion %s: exit %d: %s", shell, code, errb.String())
	}
	return out.String()
}

// helpFlags returns the flags "wssproxy CMD --help" lists.
func helpFlags(t *testing.T, cmd ...string) []cli.HelpFlag {
	t.Helper()
	var out bytes.Buffer
	if code := run(context.Background(), append(cmd, "--help"), &out, &out); code != 0 {
		t.Fatalf("%v --help: exit %d", cmd, code)
	}
	return cli.ParseFlagHelp(out.String())
}

// TestCompletionHasEveryFlag: both scripts name every flag of serve and
// client (read from their --help), and each of those is a flag the
// command accepts (so the help parsing invents none).
func TestCompletionHasEveryFlag(t *testing.T) {
	scripts := map[string]string{"bash": completionScript(t, "bash"), "zsh": completionScript(t, "zsh")}
	for _, cmd := range [][]string{{"serve"}, {"client"}, {"echo"}, {"certs", "dev"}, {"certs", "pin"}} {
		flags := helpFlags(t, cmd...)
		// A few flags every version of these commands has: the help
		// parsing found the flag list at all.
		want := map[string][]string{
			"serve":  {"listen", "upstream", "upstream-pin", "pause-on-ssl-errors", "dev-cert", "config", "admin"},
			"client": {"pin", "ca", "psk-key-file", "subprotocol", "insecure"},
		}[cmd[0]]
		for _, w := range want {
			found := false
			for _, f := range flags {
				found = found || f.Name == w
			}
			if !found {
				t.Errorf("%v --help: flag --%s not found in %d parsed flags", cmd, w, len(flags))
			}
		}
		for _, f := range flags {
			for shell, s := range scripts {
				if !strings.Contains(s, "--"+f.Name+" ") && !strings.Contains(s, "--"+f.Name+`"`) && !strings.Contains(s, "'*--"+f.Name+"[") {
					t.Errorf("%s completion lacks %v --%s", shell, cmd, f.Name)
				}
			}
			// The flag exists: giving it (with a value when it takes
			// one) never reports it as undefined.
			args := append(append([]string{}, cmd...), "--"+f.Name)
			if f.Value {
				args = append(args, "x")
			}
			args = append(args, "--help")
			var out bytes.Buffer
			run(context.Background(), args, &out, &out)
			if strings.Contains(out.String(), "flag provided but not defined") {
				t.Errorf("%v: --%s listed but not defined: %s", cmd, f.Name, out.String())
			}
		}
	}
}

// TestCompletionBash: bash parses the script, and running its function
// completes commands, subcommands, flags and files after a valued flag.
func TestCompletionBash(t *testing.T) {
	bash := testpeer.LookPath(t, "bash", "apt-get install bash")
	dir := t.TempDir()
	script := filepath.Join(dir, "wssproxy.bash")
	if err := os.WriteFile(script, []byte(completionScript(t, "bash")), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bash, "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "chain.pem"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	complete := func(words ...string) []string {
		t.Helper()
		var b strings.Builder
		b.WriteString("source " + script + "\nCOMP_WORDS=(")
		for _, w := range words {
			b.WriteString("'" + w + "' ")
		}
		fmt.Fprintf(&b, ")\nCOMP_CWORD=%d\n_wssproxy\nprintf '%%s\\n' \"${COMPREPLY[@]}\"\n", len(words)-1)
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c", b.String())
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("completing %q: %v\n%s", words, err, out)
		}
		return strings.Fields(string(out))
	}
	cases := []struct {
		words []string
		want  []string
	}{
		{[]string{"wssproxy", "se"}, []string{"serve"}},
		{[]string{"wssproxy", "certs", "p"}, []string{"pin"}},
		{[]string{"wssproxy", "completion", ""}, []string{"bash", "zsh"}},
		{[]string{"wssproxy", "serve", "--upstream-pi"}, []string{"--upstream-pin", "--upstream-pin-only"}},
		{[]string{"wssproxy", "client", "wss://x/", "--psk-k"}, []string{"--psk-key-file"}},
		{[]string{"wssproxy", "certs", "pin", "--s"}, []string{"--sni"}},
		{[]string{"wssproxy", "serve", "--cert", "ch"}, []string{"chain.pem"}},
	}
	for _, tc := range cases {
		if got := complete(tc.words...); strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("completing %q: got %q, want %q", tc.words, got, tc.want)
		}
	}
}

// TestCompletionZsh: zsh parses the script and loads it after compinit.
func TestCompletionZsh(t *testing.T) {
	zsh := testpeer.LookPath(t, "zsh", "apt-get install zsh")
	script := filepath.Join(t.TempDir(), "_wssproxy")
	if err := os.WriteFile(script, []byte(completionScript(t, "zsh")), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(zsh, "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v\n%s", err, out)
	}
	cmd := exec.Command(zsh, "-f", "-c", "autoload -U compinit && compinit -u -D && source "+script+" && print -r -- ${_comps[wssproxy]}")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "_wssproxy" {
		t.Fatalf("loading the zsh script: %v\n%s", err, out)
	}
}

// TestCompletionUsage: no shell, or an unknown one, is a usage error.
func TestCompletionUsage(t *testing.T) {
	for _, args := range [][]string{{"completion"}, {"completion", "fish"}, {"completion", "bash", "zsh"}} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != 2 || out.Len() != 0 || !strings.Contains(errb.String(), "bash or zsh") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out.String(), errb.String())
		}
	}
}
