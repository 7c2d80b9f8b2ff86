package testpeer

import (
	"io"
	"net"
	"testing"
	"time"
)

// CutWithin connects to addr, calls send over and over (it may dribble
// bytes; it should pause between calls) and fails t unless the server
// closes the connection within limit.
func CutWithin(t testing.TB, addr string, limit time.Duration, send func(net.Conn)) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	start := time.Now()
	stop := make(chan struct{})
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for {
			select {
			case <-stop:
				return
			default:
			}
			send(nc)
		}
	}()
	_ = nc.SetReadDeadline(time.Now().Add(limit + 5*time.Second))
	_, err = io.Copy(io.Discard, nc)
	close(stop)
	nc.Close()
	<-sent
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the slow client was still connected after %v", time.Since(start))
	}
	if d := time.Since(start); d > limit {
		t.Fatalf("the slow client was cut after %v, want at most %v", d, limit)
	}
}

// Dribble is a send for CutWithin that writes b one byte every 20 ms (a
// slowloris), then only waits.
func Dribble(b []byte) func(net.Conn) {
	i := 0
	return func(nc net.Conn) {
		if i < len(b) {
			_, _ = nc.Write(b[i : i+1])
			i++
		}
		time.Sleep(20 * time.Millisecond)
	}
}
