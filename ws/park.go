package ws

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
)

// ErrNotParkable is returned by Conn.ParkRead when the connection cannot
// be parked; the caller goes on waiting for its next frame on its own
// goroutine (NextFrame).
var ErrNotParkable = errors.New("ws: connection cannot be parked")

// Poller watches parked connections (Conn.ParkRead): connections that
// wait for their next frame with no goroutine and no buffer of their own.
// One goroutine waits for all of them, and only while at least one is
// parked, with an epoll set on Linux; elsewhere ParkRead returns
// ErrNotParkable. The zero Poller is ready to use; it must not be copied
// after first use, and needs no closing: its goroutine and epoll set go
// away when no connection is parked.
type Poller struct {
	mu     sync.Mutex
	set    pollSet          // open while parked is not empty
	parked map[int]*parking // by socket descriptor
}

// pollSet is the system's readiness set of parked sockets.
type pollSet interface {
	add(fd int) error
	del(fd int) error
	// wait fills fds with ready descriptors, waiting at most millis.
	wait(fds []int, millis int) (int, error)
	close() error
}

// Len returns the number of connections parked on p.
func (p *Poller) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.parked)
}

// parking is one parked connection.
type parking struct {
	p      *Poller
	resume func()
	fd     int
	fired  bool // resume has been started (or the parking cancelled); under Poller.mu
	added  bool // in the poll set; under Poller.mu
}

// pollWaitMillis bounds each wait of the Poller's goroutine, so that it
// notices when nothing is parked any more (and exits) without being
// woken.
const pollWaitMillis = 100

// add puts w's descriptor in the poll set, starting the set and its
// goroutine if needed; a parking already fired (by a concurrent close) is
// left out. It runs while the descriptor is held open (RawConn.Control).
func (p *Poller) add(w *parking, fd int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w.fired {
		return nil
	}
	if p.set == nil {
		set, err := newPollSet()
		if err != nil {
			return err
		}
		p.set = set
		p.parked = map[int]*parking{}
		go p.run(set)
	}
	if old := p.parked[fd]; old != nil {
		// A stale entry: its descriptor was closed without the parking
		// being fired, and the number reused. Wake its owner, which finds
		// its connection closed.
		p.fireLocked(old)
		go old.resume()
	}
	if err := p.set.add(fd); err != nil {
		return err
	}
	w.fd, w.added = fd, true
	p.parked[fd] = w
	return nil
}

// fire starts w's resume on a new goroutine, once: the first of the
// socket becoming readable and the connection closing wins.
func (p *Poller) fire(w *parking) {
	p.mu.Lock()
	first := !w.fired
	if first {
		p.fireLocked(w)
	}
	p.mu.Unlock()
	if first {
		go w.resume()
	}
}

// cancel marks w fired without resuming it, and reports whether it was
// not fired before (the caller then waits itself).
func (p *Poller) cancel(w *parking) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w.fired {
		return false
	}
	p.fireLocked(w)
	return true
}

// fireLocked marks w fired and takes it out of the poll set. The caller
// holds p.mu and starts w.resume (or not, for cancel).
func (p *Poller) fireLocked(w *parking) {
	w.fired = true
	if w.added {
		w.added = false
		delete(p.parked, w.fd)
		_ = p.set.del(w.fd)
	}
}

// run waits on set for parked sockets to become readable and resumes
// their connections, until nothing is parked; it then closes set.
func (p *Poller) run(set pollSet) {
	fds := make([]int, 64)
	var ready []*parking
	for {
		n, err := set.wait(fds, pollWaitMillis)
		p.mu.Lock()
		for _, fd := range fds[:n] {
			if w := p.parked[fd]; w != nil {
				p.fireLocked(w)
				ready = append(ready, w)
			}
		}
		if err != nil && !errors.Is(err, syscall.EINTR) {
			// The set failed: hand every parked connection back to a
			// goroutine of its own rather than lose it.
			for _, w := range p.parked {
				p.fireLocked(w)
				ready = append(ready, w)
			}
		}
		last := len(p.parked) == 0
		if last {
			p.set = nil
			p.parked = nil
		}
		p.mu.Unlock()
		for i, w := range ready {
			go w.resume()
			ready[i] = nil
		}
		ready = ready[:0]
		if last {
			_ = set.close()
			return
		}
	}
}

// ParkRead hands the wait for the connection's next frame to p and
// returns at once: resume then runs, once, on a new goroutine, when the
// socket has bytes to read (or its end), or when the connection is closed
// (Abort, a close timeout, its bound context ending). Meanwhile the
// connection holds no goroutine, no read buffer and no timer: a relay
// parks a connection that has been idle for a while, so that a mostly
// idle connection costs only its state.
//
// Call it after NextFrameWithin returned ErrIdle, from the goroutine that
// read; read again only from resume. Writes go on as usual. When the
// connection cannot be parked (another read holds it, bytes are buffered
// or a frame is half read, it is closing, its transport is not a TCP
// socket, directly or under crypto/tls, or the system has no epoll),
// ParkRead returns an error wrapping ErrNotParkable without calling
// resume, and the caller waits with NextFrame.
func (c *Conn) ParkRead(p *Poller, resume func()) error {
	select {
	case c.readSem <- struct{}{}:
	default:
		return fmt.Errorf("%w: a read is in progress", ErrNotParkable)
	}
	defer func() { <-c.readSem }()
	switch {
	case c.sock == nil:
		return fmt.Errorf("%w: not a TCP socket", ErrNotParkable)
	case c.readErr != nil || c.rdFixed:
		return fmt.Errorf("%w: the connection is closing", ErrNotParkable)
	case c.br != nil || c.remaining > 0 || c.layered && !c.layersDrained:
		return fmt.Errorf("%w: bytes may be waiting (park after ErrIdle)", ErrNotParkable)
	}
	w := &parking{p: p}
	w.resume = func() {
		c.parked.CompareAndSwap(w, nil)
		resume()
	}
	// Stored before the done check below: an abort that closes done
	// later finds w and fires it (abort, conn.go) before the socket is
	// closed.
	c.parked.Store(w)
	var err error
	cerr := c.sock.Control(func(fd uintptr) {
		select {
		case <-c.done:
			err = ErrClosed
		default:
			err = p.add(w, int(fd))
		}
	})
	if cerr != nil {
		err = cerr
	}
	if err == nil {
		return nil
	}
	c.parked.CompareAndSwap(w, nil)
	if !p.cancel(w) {
		return nil // fired by a concurrent close: resume runs
	}
	return fmt.Errorf("%w: %w", ErrNotParkable, err)
}

// wakeParked fires the parking of a connection being closed, if any.
// abort calls it before it closes the socket, so that the descriptor
// leaves the poll set while its number is still the connection's.
func (c *Conn) wakeParked() {
	if w := c.parked.Swap(nil); w != nil {
		w.p.fire(w)
	}
}

// pollError is a failed system call of the Poller.
type pollError struct {
	op  string
	err error
}

func (e *pollError) Error() string { return "ws: poller: " + e.op + ": " + e.err.Error() }
func (e *pollError) Unwrap() error { return e.err }
