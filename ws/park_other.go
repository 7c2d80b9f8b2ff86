//go:build !linux

package ws

import "errors"

// newPollSet fails: the poll set is only implemented on Linux (epoll);
// elsewhere ParkRead returns ErrNotParkable and connections wait on their
// own goroutines.
func newPollSet() (pollSet, error) {
	return nil, errors.New("no epoll on this system")
}
