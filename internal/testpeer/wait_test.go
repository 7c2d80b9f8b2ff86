package testpeer

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fatalTB records a test's failure and ends its goroutine, as testing.T
// does, so that a helper's failing path can itself be tested.
type fatalTB struct {
	testing.TB
	failed chan string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.failed <- fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestContext: the context ends after its bound, and at the end of the
// test that asked for it.
func TestContext(t *testing.T) {
	short := Context(t, 20*time.Millisecond)
	Receive(t, short.Done(), 10*time.Second, "a context bounded by 20ms did not end")
	var long context.Context
	t.Run("sub", func(t *testing.T) {
		long = Context(t, time.Hour)
		if long.Err() != nil {
			t.Fatalf("ended at once: %v", long.Err())
		}
	})
	if long.Err() == nil {
		t.Fatal("a test's context outlived the test")
	}
}

// TestReceive: a value sent in time is returned, a closed channel gives
// the zero value, and silence fails the test with the message given and
// the time waited.
func TestReceive(t *testing.T) {
	ch := make(chan int, 1)
	go func() { time.Sleep(10 * time.Millisecond); ch <- 7 }()
	if v := Receive(t, ch, 10*time.Second, "no 7"); v != 7 {
		t.Fatalf("received %d, want 7", v)
	}
	closed := make(chan string)
	close(closed)
	if v := Receive(t, closed, time.Second, "closed"); v != "" {
		t.Fatalf("received %q from a closed channel", v)
	}
	f := &fatalTB{TB: t, failed: make(chan string, 1)}
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		Receive(f, make(chan int), 20*time.Millisecond, "nothing came")
		f.failed <- "Receive returned without a value"
	}()
	<-returned
	if msg := <-f.failed; !strings.HasPrefix(msg, "nothing came (waited 20ms)") {
		t.Fatalf("failure %q", msg)
	}
}
