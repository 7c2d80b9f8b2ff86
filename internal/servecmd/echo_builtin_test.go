package servecmd

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wssproxy/wssproxy/ws"
)

// brokenListener fails every Accept, as a listener whose socket died.
type brokenListener struct{ net.Listener }

var errListenerBroken = errors.New("listener broken")

func (brokenListener) Accept() (net.Conn, error) { return nil, errListenerBroken }

// TestBuiltinEchoFailureSurfaces: when the built-in echo server stops
// serving, serve learns it (echoDone) and builder.close joins it and
// returns the cause. Its Serve goroutine used to run unjoined and its
// error was dropped.
func TestBuiltinEchoFailureSurfaces(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	b := &builder{log: zerolog.Nop()}
	b.echo = startEmbeddedEcho(brokenListener{ln}, b.log)
	select {
	case <-b.echoDone():
	case <-time.After(5 * time.Second):
		t.Fatal("serve is not told that the built-in echo server stopped")
	}
	err = b.close()
	if !errors.Is(err, errListenerBroken) || !strings.Contains(err.Error(), "built-in echo server") {
		t.Fatalf("close() = %v", err)
	}
}

// TestBuiltinEchoJoined: close sends 1001 to open connections and returns
// only after the echo server's goroutines are done.
func TestBuiltinEchoJoined(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &builder{log: zerolog.Nop()}
	b.echo = startEmbeddedEcho(ln, b.log)
	if b.echoDone() == nil {
		t.Fatal("no done channel")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := ws.Dial(ctx, "ws://"+ln.Addr().String()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort()
	read := make(chan error, 1)
	go func() {
		_, _, err := c.ReadMessage(ctx)
		read <- err
	}()
	if err := b.close(); err != nil {
		t.Fatalf("close() = %v", err)
	}
	select {
	case <-b.echo.Done():
	default:
		t.Fatal("close returned before the echo server's goroutine")
	}
	var ce *ws.CloseError
	if err := <-read; !errors.As(err, &ce) || ce.Code != ws.StatusGoingAway {
		t.Fatalf("client got %v, want 1001", err)
	}
	if (&builder{}).close() != nil {
		t.Fatal("close without a built-in echo server")
	}
}
