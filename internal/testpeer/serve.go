package testpeer

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"
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

// ServeTLS completes a TLS handshake with cfg on every connection to a
// 127.0.0.1 listener, then waits (at most 10 s) for the client to close,
// so that the client reads the whole handshake (a TLS 1.3 server sends
// its session tickets after its Finished). It stops when the test ends
// and returns the address.
func ServeTLS(t testing.TB, cfg *tls.Config) string {
	t.Helper()
	return ServeTLSOn(t, Listen(t), cfg)
}

// ServeTLSOn is ServeTLS on a listener the caller made (for a port that
// must be known before the server's configuration is).
func ServeTLSOn(t testing.TB, ln net.Listener, cfg *tls.Config) string {
	t.Helper()
	return Serve(t, tls.NewListener(ln, cfg), func(_ context.Context, c net.Conn) {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if c.(*tls.Conn).Handshake() == nil {
			_, _ = c.Read(make([]byte, 1))
		}
	})
}

// RunServer runs serve on a listener of 127.0.0.1 until the test ends;
// then it calls shutdown with grace to finish (shutdown's error is its
// own to check), cancels serve's context and fails t if serve returned
// an error. It returns the listener's address.
func RunServer(t testing.TB, grace time.Duration, serve func(context.Context, net.Listener) error, shutdown func(context.Context) error) string {
	t.Helper()
	ln := Listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), grace)
		defer scancel()
		_ = shutdown(sctx)
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// TCPPair returns the two ends of a loopback TCP connection, both closed
// when the test ends.
func TCPPair(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln := Listen(t)
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { client.Close(); r.c.Close() })
	return client, r.c
}
