package ws

import "syscall"

// waitReadable blocks until the socket has bytes to read (or its end, or
// an error, which the following read reports), through the runtime's
// poller: no buffer and no thread are held meanwhile. A peek of one byte
// (MSG_PEEK) tells readiness without consuming anything.
func waitReadable(rc syscall.RawConn) error {
	var b [1]byte
	return rc.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN && err != syscall.EINTR
	})
}
