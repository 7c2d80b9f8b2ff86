package testpeer

import (
	"fmt"
	"testing"
)

// TestLines: each written line reaches the channel without its newline,
// a line finding the channel full is dropped without blocking, and
// AwaitServing skips the banner's other lines and returns the address of
// the first serving line.
func TestLines(t *testing.T) {
	w := NewLines(3)
	fmt.Fprint(w, "certificate pin: x\nwssproxy: serving wss://127.0.0.1:8443/path (host a) -> echo\n")
	fmt.Fprint(w, "wssproxy: serving ws://[::1]:9000/ -> echo\n")
	fmt.Fprint(w, "dropped\n")
	if n := len(w.C); n != 3 {
		t.Fatalf("%d lines buffered, want 3", n)
	}
	if got := AwaitServing(t, w.C, nil, &Buffer{}); got != "127.0.0.1:8443" {
		t.Fatalf("first address %q", got)
	}
	if got := AwaitServing(t, w.C, nil, &Buffer{}); got != "[::1]:9000" {
		t.Fatalf("second address %q", got)
	}
	if len(w.C) != 0 {
		t.Fatalf("%q was not dropped", <-w.C)
	}
}
