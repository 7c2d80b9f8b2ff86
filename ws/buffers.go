package ws

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// An idle connection holds no read or write buffer (DESIGN.md, relay
// resource model): the read side waits for the socket to become readable
// without a buffer and takes one from a pool then; the write side takes
// one when a frame starts and gives it back once it is flushed. Buffers of
// the default sizes are pooled; other sizes are allocated when taken.
var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, DefaultReadBufferSize) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, DefaultWriteBufferSize) }}
)

// handshakeReader returns the read buffer of an opening handshake over r:
// one from the pool when size is the default (or 0), so that the
// handshake of every connection does not leave a buffer of garbage
// behind; pooled says so.
func handshakeReader(r io.Reader, size int) (br *bufio.Reader, pooled bool) {
	if size <= 0 || size == DefaultReadBufferSize {
		br = readerPool.Get().(*bufio.Reader)
		br.Reset(r)
		return br, true
	}
	return bufio.NewReaderSize(r, size), false
}

// attachReader gives the read side a buffer. The caller holds readSem.
func (c *Conn) attachReader() {
	if c.br != nil {
		return
	}
	if c.opts.ReadBufferSize == DefaultReadBufferSize {
		c.br = readerPool.Get().(*bufio.Reader)
		c.br.Reset(c.nc)
		c.brPooled = true
		return
	}
	c.br = bufio.NewReaderSize(c.nc, c.opts.ReadBufferSize)
	c.brPooled, c.brKeep = false, true
}

// releaseReader gives an empty read buffer back to the pool, or drops the
// handshake's; a buffer of another size than the default is kept. The
// caller holds readSem.
func (c *Conn) releaseReader() {
	if c.br == nil || c.brKeep || c.br.Buffered() > 0 {
		return
	}
	if c.brPooled {
		c.br.Reset(nil)
		readerPool.Put(c.br)
	}
	c.br = nil
}

// attachWriter gives the write side a buffer. The caller holds frameSem.
func (c *Conn) attachWriter() {
	if c.bw != nil {
		return
	}
	if c.opts.WriteBufferSize == DefaultWriteBufferSize {
		c.bw = writerPool.Get().(*bufio.Writer)
		c.bw.Reset(&c.cw)
		c.bwPooled = true
		return
	}
	c.bw = bufio.NewWriterSize(&c.cw, c.opts.WriteBufferSize)
	c.bwPooled = false
}

// releaseWriter gives an empty write buffer back to the pool; a buffer of
// another size than the default is kept. The caller holds frameSem.
func (c *Conn) releaseWriter() {
	if c.bw == nil || !c.bwPooled || c.bw.Buffered() > 0 {
		return
	}
	c.bw.Reset(nil)
	writerPool.Put(c.bw)
	c.bw = nil
}

// socketOf returns the TCP socket under nc, used to wait for readability
// without a buffer, or nil when there is none to reach (then the read
// buffer is kept while idle). Between nc and the socket there may be
// layers, reached through their NetConn method: crypto/tls, or another
// connection that, like it, passes read deadlines down and returns bytes
// it holds before it reads beneath (the PSK stack's connections do).
// layered says there is at least one: the socket's readiness does not
// tell whether such a layer holds bytes.
func socketOf(nc net.Conn) (rc syscall.RawConn, layered bool) {
	for range maxLayers {
		switch c := nc.(type) {
		case *net.TCPConn:
			rc, err := c.SyscallConn()
			if err != nil {
				return nil, false
			}
			return rc, layered
		case interface{ NetConn() net.Conn }:
			nc, layered = c.NetConn(), true
		default:
			return nil, false
		}
	}
	return nil, false
}

// maxLayers bounds how deep socketOf looks for the socket.
const maxLayers = 4

// awaitReadable returns once the connection has bytes to read, with the
// read buffer attached. While nothing arrives it holds no buffer: it
// waits on the socket itself. A layer above the socket (crypto/tls) may
// already hold a record read with an earlier one, which the socket would
// not signal: a read with an expired deadline takes it first, unless the
// last wait found the layers empty (layersDrained). The caller holds
// readSem; the read deadline is not set (an idle wait is not bounded)
// unless an idle limit is (NextFrameWithin): then no byte by the limit,
// also after a wake that found nothing to read, is ErrIdle, with no
// buffer held.
func (c *Conn) awaitReadable() error {
	if c.br != nil && c.br.Buffered() > 0 {
		return nil
	}
	if c.sock == nil || c.rdFixed {
		c.attachReader()
		return nil
	}
	drained := c.layersDrained
	c.layersDrained = false
	var limit time.Time // of an idle wait (NextFrameWithin)
	if c.idleLimit > 0 {
		limit = time.Now().Add(c.idleLimit)
	}
	if c.layered && !drained {
		c.attachReader()
		_ = c.nc.SetReadDeadline(time.Unix(1, 0))
		_, err := c.br.Peek(1)
		if err == nil {
			_ = c.nc.SetReadDeadline(time.Time{})
			return nil
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			_ = c.nc.SetReadDeadline(time.Time{})
			return err
		}
		// The layers are empty: wait on the socket, within the limit.
		_ = c.nc.SetReadDeadline(limit)
	} else if !limit.IsZero() {
		_ = c.nc.SetReadDeadline(limit)
	}
	c.releaseReader()
	err := waitReadable(c.sock)
	if limit.IsZero() {
		if err != nil {
			return err
		}
		c.attachReader()
		return nil
	}
	if err == nil {
		// The runtime's poller can report a readiness it harvested late,
		// after the bytes that raised it were read: the first read keeps
		// the idle limit, so that such a wake ends in ErrIdle too rather
		// than in a wait with a buffer and no limit.
		c.attachReader()
		_, err = c.br.Peek(1)
	}
	_ = c.nc.SetReadDeadline(time.Time{})
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// Nothing is buffered above the socket: the layers were found
		// empty, and a record a layer began reading since ends with bytes
		// the socket will signal. The next wait (after ParkRead) need not
		// look there again.
		c.releaseReader()
		c.layersDrained = c.layered
		return ErrIdle
	}
	return err
}

// FrameBuffered reports whether the next frame, header and payload, is
// already in the read buffer: reading it will not wait on the network. A
// relay uses it to coalesce writes (flush only when no further frame is
// at hand); call it from the reading goroutine, between frames. Bytes a
// TLS layer holds below the buffer are not counted.
func (c *Conn) FrameBuffered() bool {
	c.readSem <- struct{}{}
	defer func() { <-c.readSem }()
	if c.br == nil || c.remaining > 0 || c.readErr != nil {
		return false
	}
	n := c.br.Buffered()
	if n < 2 {
		return false
	}
	b, _ := c.br.Peek(min(n, MaxHeaderSize))
	size, length := 2, int64(b[1]&0x7f)
	switch length {
	case 126:
		size += 2
	case 127:
		size += 8
	}
	if len(b) < size {
		return false
	}
	switch length {
	case 126:
		length = int64(binary.BigEndian.Uint16(b[2:4]))
	case 127:
		length = int64(binary.BigEndian.Uint64(b[2:10]) & (1<<63 - 1))
	}
	if b[1]&0x80 != 0 {
		size += 4
	}
	return int64(n)-int64(size) >= length
}
