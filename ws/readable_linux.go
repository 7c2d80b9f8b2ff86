package ws

import "syscall"

// waitReadable blocks until the socket has bytes to read (or its end, or
// an error, which the following read reports), through the runtime's
// poller: no buffer and no thread are held meanwhile. The first check
// peeks at one byte (MSG_PEEK) without consuming it; once the poller
// wakes the wait, the socket is readable and no further syscall is made,
// so an idle wake-up costs no more syscalls than a plain blocking read.
func waitReadable(rc syscall.RawConn) error {
	var b [1]byte
	checked := false
	return rc.Read(func(fd uintptr) bool {
		if checked {
			return true // woken by the poller
		}
		checked = true
		for {
			_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if err != syscall.EINTR {
				return err != syscall.EAGAIN
			}
		}
	})
}
