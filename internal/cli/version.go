package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// RunVersion prints what "wssproxy version" prints: ldVersion (set at
// link time; empty means the module's version from the build
// information), the VCS revision and the Go version.
func RunVersion(stdout io.Writer, ldVersion string) int {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	fmt.Fprint(stdout, versionText(ldVersion, bi, runtime.GOOS+"/"+runtime.GOARCH))
	return 0
}

// versionText describes a build: the version (ldVersion when set at link
// time, else the main module's version from bi, else "(devel)"), the VCS
// revision with its dirty flag and commit time (stamped by go build in a
// Git checkout unless -buildvcs=false), and the Go version and platform.
// bi may be nil (a binary without build information).
func versionText(ldVersion string, bi *debug.BuildInfo, platform string) string {
	v := ldVersion
	if v == "" && bi != nil && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	if v == "" {
		v = "(devel)"
	}
	var rev, when, modified string
	goVersion := runtime.Version()
	if bi != nil {
		goVersion = bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "wssproxy %s\n", v)
	switch {
	case rev == "":
		b.WriteString("revision:    unknown (built without VCS information)\n")
	case modified == "true":
		fmt.Fprintf(&b, "revision:    %s (modified: uncommitted changes)\n", rev)
	default:
		fmt.Fprintf(&b, "revision:    %s\n", rev)
	}
	if when != "" {
		fmt.Fprintf(&b, "commit time: %s\n", when)
	}
	fmt.Fprintf(&b, "go:          %s %s\n", goVersion, platform)
	return b.String()
}
