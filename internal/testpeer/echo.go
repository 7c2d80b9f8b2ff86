package testpeer

import (
	"context"
	"testing"
)

// MessageConn is the part of a *ws.Conn that Echo uses (testpeer does not
// import ws, so that ws's own tests may use testpeer).
type MessageConn[T any] interface {
	WriteMessage(ctx context.Context, typ T, p []byte) error
	ReadMessage(ctx context.Context) (T, []byte, error)
}

// Echo sends msg on c as a message of type typ and fails t unless the
// next message read back holds the same bytes.
func Echo[T any](ctx context.Context, t testing.TB, c MessageConn[T], typ T, msg string) {
	t.Helper()
	if err := c.WriteMessage(ctx, typ, []byte(msg)); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	if _, got, err := c.ReadMessage(ctx); err != nil || string(got) != msg {
		t.Fatalf("echo of %q: got %q, %v", msg, got, err)
	}
}
