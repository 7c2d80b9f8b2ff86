package testpeer

import (
	"slices"
	"testing"
	"time"
)

// TestFeedWait: a waiter gets an item added later, an item added before
// the end still counts, and the timeout and the end both stop a wait
// that finds nothing.
func TestFeedWait(t *testing.T) {
	var f Feed[int]
	got := make(chan int, 1)
	go func() {
		v, _ := f.Wait(func(v int) bool { return v > 1 }, time.After(10*time.Second), nil)
		got <- v
	}()
	f.Add(1)
	f.Add(2)
	if v := <-got; v != 2 {
		t.Fatalf("waited for 2, got %d", v)
	}
	if items := f.Items(); len(items) != 2 || items[0] != 1 || items[1] != 2 {
		t.Fatalf("items %v", items)
	}
	end := make(chan struct{})
	close(end)
	if v, ok := f.Wait(func(v int) bool { return v == 1 }, nil, end); !ok || v != 1 {
		t.Fatalf("ended feed: %d %v, want 1 found", v, ok)
	}
	if _, ok := f.Wait(func(v int) bool { return v == 3 }, nil, end); ok {
		t.Fatal("found 3 in an ended feed")
	}
	if _, ok := f.Wait(func(v int) bool { return v == 3 }, time.After(10*time.Millisecond), nil); ok {
		t.Fatal("found 3 before the timeout")
	}
}

// TestFeedTake: Take returns what was added since the last Take, once.
func TestFeedTake(t *testing.T) {
	var f Feed[string]
	f.Add("a")
	f.Add("b")
	if got := f.Take(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("first take %q", got)
	}
	if got := f.Take(); len(got) != 0 {
		t.Fatalf("second take %q, want nothing", got)
	}
	f.Add("c")
	if got := f.Take(); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("third take %q", got)
	}
	if got := f.Items(); len(got) != 0 {
		t.Fatalf("items %q after the take", got)
	}
}
