package proxy_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/wssproxy/wssproxy/proxy"
	"github.com/wssproxy/wssproxy/ws"
	"github.com/wssproxy/wssproxy/ws/echo"
)

// A proxy with one route relays a client to a ws backend; Shutdown closes
// both legs with 1001.
func Example() {
	// The backend: an echo server.
	backendLn, _ := net.Listen("tcp", "127.0.0.1:0")
	backend := &http.Server{Handler: &echo.Handler{}}
	go backend.Serve(backendLn)
	defer backend.Close()

	srv, err := proxy.New(&proxy.Options{Routes: []proxy.Route{{
		Path:           "/chat",
		Upstream:       "ws://" + backendLn.Addr().String(),
		StripPath:      true,
		MaxMessageSize: 1 << 20,
	}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()

	c, _, err := ws.Dial(ctx, "ws://"+ln.Addr().String()+"/chat", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	c.WriteMessage(ctx, ws.MessageText, []byte("through the proxy"))
	_, msg, _ := c.ReadMessage(ctx)
	fmt.Println(string(msg))

	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	go srv.Shutdown(sctx, ws.StatusGoingAway, "maintenance")
	_, _, err = c.ReadMessage(ctx)
	fmt.Println(err)
	fmt.Println(<-done)
	// Output:
	// through the proxy
	// ws: closed with 1001 (going away): "maintenance"
	// <nil>
}
