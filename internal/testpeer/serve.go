package testpeer

import (
	"context"
	"net"
	"sync"
	"testing"
)

// Serve runs handle on its own goroutine for every connection ln accepts,
// until the test ends; then ln is closed, the ctx handle got is cancelled,
// and the cleanup waits for the accept loop and every handle to return
// (so a handle must end when ctx does, or be bounded by a deadline). It
// returns ln's address.
func Serve(t testing.TB, ln net.Listener, handle func(ctx context.Context, c net.Conn)) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { handle(ctx, c) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		cancel()
		wg.Wait()
	})
	return ln.Addr().String()
}

// Listen listens on a free TCP port of 127.0.0.1.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
