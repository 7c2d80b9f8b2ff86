package ws

import "syscall"

// epollSet is an epoll set of parked sockets, each registered one-shot
// and level-triggered: bytes that arrive between the last read and the
// registration are reported at once.
type epollSet struct {
	fd  int
	evs []syscall.EpollEvent
}

func newPollSet() (pollSet, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, &pollError{"epoll_create1", err}
	}
	return &epollSet{fd: fd}, nil
}

func (s *epollSet) add(fd int) error {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(fd)}
	if err := syscall.EpollCtl(s.fd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return &pollError{"epoll_ctl add", err}
	}
	return nil
}

func (s *epollSet) del(fd int) error {
	if err := syscall.EpollCtl(s.fd, syscall.EPOLL_CTL_DEL, fd, nil); err != nil {
		return &pollError{"epoll_ctl del", err}
	}
	return nil
}

func (s *epollSet) wait(fds []int, millis int) (int, error) {
	if len(s.evs) < len(fds) {
		s.evs = make([]syscall.EpollEvent, len(fds))
	}
	n, err := syscall.EpollWait(s.fd, s.evs[:len(fds)], millis)
	if err != nil {
		return 0, &pollError{"epoll_wait", err}
	}
	for i := range n {
		fds[i] = int(s.evs[i].Fd)
	}
	return n, nil
}

func (s *epollSet) close() error { return syscall.Close(s.fd) }
