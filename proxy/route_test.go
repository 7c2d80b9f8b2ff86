package proxy

import (
	"net/http"
	"testing"

	"github.com/wssproxy/wssproxy/ws"
)

// Unnamed routes are named after their host and path ("*" for the
// catch-all), so two of them never share a name in logs, metrics and
// the admin API (they were all "default" when host and path were empty).
func TestRouteDefaultNames(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, nil, echoHandle)
	base, s := startProxy(t, Options{Routes: []Route{
		{Upstream: up.url()},
		{Path: "/chat", Upstream: up.url()},
		{Host: "Example.COM", Path: "/chat", Upstream: up.url()},
		{Host: "example.org", Upstream: up.url()},
		{Name: "mine", Path: "/own", Upstream: up.url()},
	}})
	waitFor(t, "ready", s.Ready)
	cases := []struct{ host, path, want string }{
		{"", "/", "*"},
		{"", "/other", "*"},
		{"", "/chat/room", "/chat"},
		{"example.com", "/chat", "example.com/chat"},
		{"example.org", "/", "example.org"},
		{"", "/own", "mine"},
	}
	ctx := ctxT(t)
	for _, tc := range cases {
		h := http.Header{}
		if tc.host != "" {
			h.Set("Host", tc.host)
		}
		c := dial(t, base+tc.path, &ws.DialOptions{Header: h})
		if err := c.WriteMessage(ctx, ws.MessageText, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ReadMessage(ctx); err != nil {
			t.Fatal(err)
		}
		conns := s.Connections()
		if len(conns) != 1 || conns[0].Route != tc.want {
			t.Errorf("host %q path %q: connections %+v, want one on route %q", tc.host, tc.path, conns, tc.want)
		}
		if err := c.Close(ws.StatusNormalClosure, ""); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "no connection", func() bool { return len(s.Connections()) == 0 })
	}
}

// A route with neither name, host nor path is "*" also in errors about it.
func TestRouteDefaultNameInErrors(t *testing.T) {
	_, err := New(&Options{Routes: []Route{{Upstream: "http://x/"}}})
	if err == nil || err.Error() != `proxy: route "*": upstream "http://x/" must be a ws:// or wss:// URL with a host` {
		t.Fatalf("New: %v", err)
	}
}
