package ws_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wssproxy/wssproxy/ws"
)

func TestSmoke(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := ws.Accept(w, r, nil)
		if err != nil {
			return
		}
		for {
			typ, p, err := c.ReadMessage(context.Background())
			if err != nil {
				return
			}
			c.WriteMessage(context.Background(), typ, p)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c, _, err := ws.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &ws.DialOptions{Options: ws.Options{OutgoingFrameSize: 3}})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"", "a", "hello world", strings.Repeat("é", 100000)} {
		if err := c.WriteMessage(ctx, ws.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
		typ, p, err := c.ReadMessage(ctx)
		if err != nil || typ != ws.MessageText || string(p) != m {
			t.Fatalf("got %v %d %v", typ, len(p), err)
		}
	}
	if err := c.Close(4000, "bye"); err != nil {
		t.Fatal(err)
	}
	code, reason := c.CloseStatus()
	t.Log(code, reason)
}
