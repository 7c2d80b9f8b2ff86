package cli

import (
	"runtime/debug"
	"strings"
	"testing"
)

// TestVersionText: the link-time version wins, else the module's; the
// revision, its dirty flag and commit time come from the VCS settings,
// and a build without them says so.
func TestVersionText(t *testing.T) {
	vcs := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "v0.0.0-20260101000000-abcdef012345+dirty"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abcdef0123456789"}, {Key: "vcs.time", Value: "2026-01-01T00:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	cases := []struct {
		name, ld string
		bi       *debug.BuildInfo
		want     []string
	}{
		{"module", "", vcs, []string{"wssproxy v0.0.0-20260101000000-abcdef012345+dirty\n", "revision:    abcdef0123456789 (modified: uncommitted changes)\n", "commit time: 2026-01-01T00:00:00Z\n", "go:          go1.99 os/arch\n"}},
		{"ldflags", "v1.2.3", vcs, []string{"wssproxy v1.2.3\n", "revision:    abcdef0123456789 (modified"}},
		{"clean", "", &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "v1.0.0"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "false"}}}, []string{"wssproxy v1.0.0\n", "revision:    abc\n"}},
		{"no vcs", "", &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "(devel)"}}, []string{"wssproxy (devel)\n", "revision:    unknown (built without VCS information)\n"}},
		{"no build info", "", nil, []string{"wssproxy (devel)\n", "revision:    unknown"}},
	}
	for _, tc := range cases {
		got := versionText(tc.ld, tc.bi, "os/arch")
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", tc.name, got, w)
			}
		}
		if tc.name == "clean" && strings.Contains(got, "modified") {
			t.Errorf("clean: %q says modified", got)
		}
	}
}
