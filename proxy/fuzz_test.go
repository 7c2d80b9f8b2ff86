package proxy

import (
	"net/url"
	"path"
	"strings"
	"testing"
)

// FuzzCheckPath checks checkPath against its definition: a request path
// is accepted exactly when it is what path.Clean makes of it (or that
// plus a trailing slash, "//" excepted) and holds no backslash and no
// encoded slash or backslash.
func FuzzCheckPath(f *testing.F) {
	for _, seed := range []string{
		"/", "/api", "/api/", "/api/../admin", "/api/./x", "/api//x", "//x", "/api/%2e%2e/x", "/api%2fx",
		"/api%5Cx", `/a\b`, "/a%20b", "/..x", "/x..", "/a?q=/../", "/%", "/a/.", "/a/..", "//",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || !strings.HasPrefix(target, "/") {
			return
		}
		err = checkPath(u)
		lower := strings.ToLower(u.EscapedPath())
		c := path.Clean(u.Path)
		canonical := u.Path == c || c != "/" && u.Path == c+"/"
		clean := canonical && !strings.ContainsRune(u.Path, '\\') && !strings.Contains(lower, "%2f") && !strings.Contains(lower, "%5c")
		if (err == nil) != clean {
			t.Fatalf("%q (path %q, escaped %q): checkPath says %v, want accepted=%v", target, u.Path, u.EscapedPath(), err, clean)
		}
	})
}
