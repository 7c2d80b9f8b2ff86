package testpeer

import (
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
