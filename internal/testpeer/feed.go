package testpeer

import (
	"slices"
	"sync"
	"time"
)

// Feed is a list one side appends to (a process's output lines, a peer
// server's events) while tests wait for an item in it. Its zero value is
// ready to use; it is safe for concurrent use.
type Feed[T any] struct {
	mu    sync.Mutex
	items []T
	added chan struct{} // closed and cleared by Add; made by a waiter
}

// Add appends v and wakes the waiters.
func (f *Feed[T]) Add(v T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items = append(f.items, v)
	if f.added != nil {
		close(f.added)
		f.added = nil
	}
}

// Items returns a copy of what was added so far, in order.
func (f *Feed[T]) Items() []T {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.items)
}

// Take returns what was added since the last Take (everything, the
// first time), in order, and forgets it: a test checks each step's items
// alone.
func (f *Feed[T]) Take() []T {
	f.mu.Lock()
	defer f.mu.Unlock()
	items := f.items
	f.items = nil
	return items
}

// find returns the first item match accepts or, when there is none, a
// channel closed by the next Add.
func (f *Feed[T]) find(match func(T) bool) (v T, ok bool, added <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, v := range f.items {
		if match(v) {
			return v, true, nil
		}
	}
	if f.added == nil {
		f.added = make(chan struct{})
	}
	return v, false, f.added
}

// Wait returns the first item match accepts, waiting for more until
// timeout fires or end is closed (what was added before the end still
// counts: the feed is searched once more). ok is false when no item
// came; the caller tells which of the two ended the wait.
func (f *Feed[T]) Wait(match func(T) bool, timeout <-chan time.Time, end <-chan struct{}) (v T, ok bool) {
	for {
		v, ok, added := f.find(match)
		if ok {
			return v, true
		}
		select {
		case <-added:
		case <-end:
			v, ok, _ = f.find(match)
			return v, ok
		case <-timeout:
			return v, false
		}
	}
}
