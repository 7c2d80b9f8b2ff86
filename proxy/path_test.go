package proxy

import (
	"strings"
	"testing"
)

// Paths that another server may read as a different path (dot segments,
// empty segments, encoded slashes and backslashes) are refused with 400
// before routing, so a route's rules cannot be bypassed by a path that
// the upstream normalises to another route's (issue 9 item 8:
// /api/../admin matched /api and reached the upstream unchanged).
func TestNonCanonicalPathsRefused(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, nil, echoHandle)
	base, _ := startProxy(t, Options{Routes: []Route{
		{Name: "api", Path: "/api", Upstream: up.url()},
		{Name: "admin", Path: "/admin", Upstream: up.url(), AllowedOrigins: []string{"https://admin.example"}},
	}})
	for _, path := range []string{
		"/api/../admin", "/api/./x", "/api/..", "/api/.", "/api/%2e%2e/admin", "/api/%2E%2e/admin", "/api/.%2e/admin",
		"/api%2f..%2fadmin", "/api%2Fx", "/api%5c..%5cadmin", "/api%5Cx", `/api\..\admin`, "/api//x", "//admin",
		"/api/x/..", "/api/%2e",
	} {
		resp, nc := rawDial(t, base, nil, strings.Replace(handshake, "GET /p ", "GET "+path+" ", 1)+"\r\n")
		nc.Close()
		if resp.StatusCode != 400 {
			t.Errorf("%s: status %d, want 400", path, resp.StatusCode)
		}
	}
	// Canonical paths, encoded characters other than / and \ included,
	// are routed as before.
	for _, path := range []string{"/api", "/api/", "/api/x", "/api/x/", "/api/a%20b", "/api/..x", "/api/x..", "/api/.x", "/api?q=/../x"} {
		resp, nc := rawDial(t, base, nil, strings.Replace(handshake, "GET /p ", "GET "+path+" ", 1)+"\r\n")
		nc.Close()
		if resp.StatusCode != 101 {
			t.Errorf("%s: status %d, want 101", path, resp.StatusCode)
		}
	}
	if n := len(up.requestsSeen()); n != 9 {
		t.Errorf("upstream saw %d requests, want 9", n)
	}
}
