package deploy_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// unitSettings returns the unit's Key=Value lines, values of repeated
// keys in order.
func unitSettings(t *testing.T, text string) map[string][]string {
	t.Helper()
	m := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("unit line %q is not Key=Value", line)
		}
		m[k] = append(m[k], v)
	}
	return m
}

// verifyUnit writes text as wssproxy.service in a temporary folder with
// ExecStart's /usr/local/bin/wssproxy replaced by bin, runs
// systemd-analyze verify on it and returns what it said about the unit
// and its exit error.
func verifyUnit(t *testing.T, analyze, bin, text string) (string, error) {
	t.Helper()
	unit := filepath.Join(t.TempDir(), "wssproxy.service")
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(text, "/usr/local/bin/wssproxy", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	var ours []string
	for _, l := range strings.Split(string(out), "\n") {
		// Other units of the machine may draw warnings of their own.
		if strings.Contains(l, "wssproxy") {
			ours = append(ours, l)
		}
	}
	return strings.Join(ours, "\n"), err
}

// TestSystemdUnit: systemd-analyze verify accepts the unit without a
// warning (and rejects a broken copy, so the check can fail), its
// exposure score stays under 2.0, the hardening the README promises is
// there, and ExecStart's flags are ones serve accepts.
func TestSystemdUnit(t *testing.T) {
	analyze := testpeer.LookPath(t, "systemd-analyze", "apt-get install systemd")
	b, err := os.ReadFile("wssproxy.service")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	bin := staticBinary(t)
	if said, err := verifyUnit(t, analyze, bin, text); err != nil || said != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, said)
	}
	broken := strings.Replace(text, "SystemCallFilter=@system-service", "SystemCallFilter=@no-such-set", 1)
	broken = strings.Replace(broken, "ProtectSystem=strict", "ProtectSystm=strict", 1)
	if said, _ := verifyUnit(t, analyze, bin, broken); !strings.Contains(said, "@no-such-set") || !strings.Contains(said, "ProtectSystm") {
		t.Errorf("systemd-analyze verify let a broken unit through: %q", said)
	}

	unit := filepath.Join(t.TempDir(), "wssproxy.service")
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(text, "/usr/local/bin/wssproxy", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "security", "--offline=yes", "--threshold=20", unit).CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err != nil {
		t.Errorf("systemd-analyze security: exposure above 2.0 (%v): %s", err, lines[len(lines)-1])
	}
	t.Logf("systemd-analyze security: %s", lines[len(lines)-1])

	s := unitSettings(t, text)
	want := map[string]string{
		"DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
		"StateDirectory": "wssproxy", "CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
		"AmbientCapabilities": "CAP_NET_BIND_SERVICE", "MemoryDenyWriteExecute": "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "PrivateTmp": "yes", "PrivateDevices": "yes",
		"ExecReload": "/bin/kill -HUP $MAINPID", "Environment": "XDG_STATE_HOME=%S",
	}
	for k, v := range want {
		if len(s[k]) != 1 || s[k][0] != v {
			t.Errorf("%s=%q, want %q", k, s[k], v)
		}
	}
	if f := s["SystemCallFilter"]; len(f) == 0 || f[0] != "@system-service" {
		t.Errorf("SystemCallFilter=%q, want @system-service first", f)
	}

	// ExecStart's command line, --help added: serve knows its flags.
	args := strings.Fields(s["ExecStart"][0])
	if args[0] != "/usr/local/bin/wssproxy" || args[1] != "serve" {
		t.Fatalf("ExecStart %q does not run wssproxy serve", s["ExecStart"][0])
	}
	if out, err := exec.Command(bin, append(args[1:], "--help")...).CombinedOutput(); err != nil {
		t.Errorf("%q --help: %v\n%s", args, err, out)
	}
}
