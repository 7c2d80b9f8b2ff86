package psk

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The "bad input" suite for the one-port dispatcher: a corpus of
// malformed and mutated ClientHellos thrown at NewListener (PSK with
// TLS 1.2 enabled, and certificates). Each connection must be closed
// promptly, with an alert or a plain close; nothing may panic; every
// server goroutine ends; PSK and certificate clients are served
// throughout.

// captureConn records what a client writes and fails its first Read:
// the client's first flight, without a server.
type captureConn struct {
	out []byte
}

func (c *captureConn) Write(b []byte) (int, error)      { c.out = append(c.out, b...); return len(b), nil }
func (c *captureConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (c *captureConn) Close() error                     { return nil }
func (c *captureConn) SetDeadline(time.Time) error      { return nil }
func (c *captureConn) SetReadDeadline(time.Time) error  { return nil }
func (c *captureConn) SetWriteDeadline(time.Time) error { return nil }
func (c *captureConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *captureConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }

// firstFlight returns the records a client sends first.
func firstFlight(t *testing.T, handshake func(net.Conn) error) []byte {
	t.Helper()
	cc := &captureConn{}
	_ = handshake(cc)
	if len(cc.out) < recordHeaderLen+4 {
		t.Fatalf("no ClientHello captured (%d bytes)", len(cc.out))
	}
	return cc.out
}

// handshakeRecords splits handshake bytes into records of at most
// maxPlaintext bytes each.
func handshakeRecords(b []byte) []byte {
	var recs []byte
	for len(b) > 0 {
		n := min(len(b), maxPlaintext)
		recs = append(recs, record(recordHandshake, b[:n])...)
		b = b[n:]
	}
	return recs
}

// badHelloCorpus builds the inputs: valid hellos of every kind (PSK
// TLS 1.3 with a real binder, PSK with signature_algorithms, TLS 1.2 PSK,
// crypto/tls), then truncations, length-field corruptions, bad
// extensions, huge messages, random bytes and random mutations of them.
func badHelloCorpus(t *testing.T, rng *rand.Rand) (corpus [][]byte, valid [][]byte) {
	t.Helper()
	pskCH := firstFlight(t, func(c net.Conn) error { return Client(c, testClientConfig(t)).Handshake() })
	cfg12 := tls12Client(t)
	psk12CH := firstFlight(t, func(c net.Conn) error { return Client(c, cfg12).Handshake() })
	dualCfg := testClientConfig(t)
	dualCfg.MinVersion = VersionTLS12
	dualCH := firstFlight(t, func(c net.Conn) error { return Client(c, dualCfg).Handshake() })
	certCH := firstFlight(t, func(c net.Conn) error {
		return tls.Client(c, &tls.Config{ServerName: "localhost", InsecureSkipVerify: true}).Handshake()
	})
	sigAlgCH := record(recordHandshake, pskHelloWithSigAlgs(t))
	valid = [][]byte{pskCH, psk12CH, dualCH, certCH, sigAlgCH}
	add := func(b []byte) { corpus = append(corpus, b) }
	for _, v := range valid {
		add(v)
	}

	for _, v := range valid {
		// Truncations at every interesting point and a few random ones.
		for _, n := range []int{0, 1, 4, 5, 6, 9, 10, 43, 44, 76, 77, len(v) / 2, len(v) - 35, len(v) - 1} {
			if n >= 0 && n < len(v) {
				add(v[:n])
			}
		}
		for range 8 {
			add(v[:rng.IntN(len(v))])
		}
		// Record and handshake length fields: zero, one off, huge.
		for _, f := range []struct{ at, size int }{{3, 2}, {6, 3}} {
			for _, val := range []int{0, 1, -1, +1, 0xffff, 0xffffff, 0x4001} {
				b := append([]byte(nil), v...)
				cur := 0
				for i := range f.size {
					cur = cur<<8 | int(b[f.at+i])
				}
				nv := val
				if val == -1 || val == +1 {
					nv = cur + val
				}
				for i := f.size - 1; i >= 0; i-- {
					b[f.at+i] = byte(nv)
					nv >>= 8
				}
				add(b)
			}
		}
		// The hello split into one-byte records (legal), and into records
		// with another type between them.
		msg := v[recordHeaderLen:]
		var frag, mixed []byte
		for i := range msg {
			frag = append(frag, record(recordHandshake, msg[i:i+1])...)
			mixed = append(mixed, record(recordHandshake, msg[i:i+1])...)
			if i == 10 {
				mixed = append(mixed, record(recordApplicationData, []byte("x"))...)
			}
		}
		add(frag)
		add(mixed)
		// Wrong record types and versions around a valid body.
		for _, typ := range []byte{0, recordChangeCipherSpec, recordAlert, recordApplicationData, 24, 0xff} {
			b := append([]byte(nil), v...)
			b[0] = typ
			add(b)
		}
		for _, ver := range [][2]byte{{2, 0}, {3, 4}, {0xff, 0xff}, {0, 0}} {
			b := append([]byte(nil), v...)
			b[1], b[2] = ver[0], ver[1]
			add(b)
		}
	}

	// Bad extensions in a PSK hello (each list is a valid hello's).
	m, exts := helloParts(t)
	withExts := func(f func([]ext) []ext) {
		cp := append([]ext(nil), exts...)
		add(record(recordHandshake, buildHello(m, f(cp))))
	}
	for i := range exts {
		withExts(func(e []ext) []ext { return append(e[:i:i], e[i+1:]...) })                            // one missing
		withExts(func(e []ext) []ext { return append([]ext{e[i]}, e...) })                              // duplicated
		withExts(func(e []ext) []ext { e[i] = ext{typ: e[i].typ}; return e })                           // empty
		withExts(func(e []ext) []ext { e[i] = ext{typ: e[i].typ, data: make([]byte, 1000)}; return e }) // zeros
		withExts(func(e []ext) []ext {
			d := append([]byte(nil), e[i].data...)
			if len(d) > 0 {
				d[0] ^= 0x80 // inner length off
			}
			e[i] = ext{typ: e[i].typ, data: d}
			return e
		})
	}
	withExts(func(e []ext) []ext { return append(e, ext{typ: 0xfafa, data: make([]byte, 60000)}) })
	withExts(func(e []ext) []ext {
		for i := range 3000 {
			e = append([]ext{{typ: uint16(0x1000 + i)}}, e...)
		}
		return e
	})

	// Huge: a ClientHello announcing 16 MiB and sending 80 KiB of it, one
	// of 64 KiB + 1, a record over 2^14, many identities.
	add(handshakeRecords(append([]byte{typeClientHello, 0xff, 0xff, 0xff}, make([]byte, 80<<10)...)))
	add(handshakeRecords(append([]byte{typeClientHello, 0x01, 0x00, 0x01}, make([]byte, 64<<10+1)...)))
	add(append([]byte{recordHandshake, 3, 1, 0x40, 0x01}, make([]byte, 1<<14+1)...))
	many := *m
	many.identities, many.binders = nil, nil
	for i := range 1500 {
		many.identities = append(many.identities, pskIdentity{identity: []byte(fmt.Sprintf("id-%d", i))})
		many.binders = append(many.binders, make([]byte, 32))
	}
	if raw, err := many.marshal(); err == nil {
		add(handshakeRecords(raw))
	}

	// Random bytes, bare and behind a plausible record header.
	for range 150 {
		b := make([]byte, rng.IntN(700))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		add(b)
		add(append([]byte{recordHandshake, 3, 1, byte(len(b) >> 8), byte(len(b))}, b...))
	}

	// Random mutations of the valid hellos: bit flips, byte runs
	// overwritten, bytes inserted or deleted, splices.
	for range 1200 {
		b := append([]byte(nil), valid[rng.IntN(len(valid))]...)
		for range 1 + rng.IntN(4) {
			switch rng.IntN(5) {
			case 0:
				i := rng.IntN(len(b))
				b[i] ^= 1 << rng.IntN(8)
			case 1:
				i := rng.IntN(len(b))
				for j := i; j < min(len(b), i+1+rng.IntN(8)); j++ {
					b[j] = byte(rng.Uint32())
				}
			case 2:
				i := rng.IntN(len(b) + 1)
				b = append(b[:i:i], append([]byte{byte(rng.Uint32())}, b[i:]...)...)
			case 3:
				if len(b) > 1 {
					i := rng.IntN(len(b))
					b = append(b[:i:i], b[i+1:]...)
				}
			case 4:
				o := valid[rng.IntN(len(valid))]
				i, j := rng.IntN(len(b)), rng.IntN(len(o))
				b = append(b[:i:i], o[j:]...)
			}
		}
		add(b)
	}
	return corpus, valid
}

// badInputResult is what one corpus input did to the server.
type badInputResult struct {
	alert   bool          // the client read an alert record
	elapsed time.Duration // until the server closed
	err     error         // the client's read error (EOF, reset)
}

// throwInput sends b, half-closes unless keepOpen (the server then reads
// EOF after it) and reads until the server closes.
func throwInput(addr string, b []byte, keepOpen bool, limit time.Duration) badInputResult {
	start := time.Now()
	nc, err := net.DialTimeout("tcp", addr, limit)
	if err != nil {
		return badInputResult{err: err, elapsed: time.Since(start)}
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(limit))
	_, _ = nc.Write(b) // the server may close before reading it all
	if !keepOpen {
		_ = nc.(*net.TCPConn).CloseWrite()
	}
	var res badInputResult
	br := bufio.NewReader(nc)
	for {
		hdr, err := br.Peek(recordHeaderLen)
		if err == nil && hdr[0] == recordAlert {
			res.alert = true
		}
		if err != nil {
			_, err = io.Copy(io.Discard, br)
			if err == nil {
				err = io.EOF
			}
			res.err = err
			break
		}
		n := int(hdr[3])<<8 | int(hdr[4])
		if _, err := br.Discard(recordHeaderLen + n); err != nil {
			_, _ = io.Copy(io.Discard, br)
			res.err = err
			break
		}
	}
	res.elapsed = time.Since(start)
	return res
}

// echoLine writes line on c and checks, within 5 s, that the server
// sends it back.
func echoLine(c net.Conn, line string) error {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(line)); err != nil {
		return err
	}
	if got, err := bufio.NewReader(c).ReadString('\n'); err != nil || got != line {
		return fmt.Errorf("read %q, %v", got, err)
	}
	return nil
}

func TestDispatcherBadInput(t *testing.T) {
	baseline := runtime.NumGoroutine()
	cert, pool, _ := testCert(t)
	pskCfg := tls12Server(t)
	pskCfg.HandshakeTimeout = 2 * time.Second
	certCfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewListener(inner, pskCfg, certCfg)
	addr := ln.Addr().String()

	// The server: each connection handshakes (bounded), then echoes one
	// line. A panic is recovered and counted, never hidden.
	var (
		wg       sync.WaitGroup
		crashes  atomic.Int64
		handled  atomic.Int64
		slowest  atomic.Int64
		crashMu  sync.Mutex
		crashLog []string
	)
	serveConn := func(c net.Conn) {
		defer wg.Done()
		defer c.Close()
		defer func() {
			if p := recover(); p != nil {
				crashes.Add(1)
				crashMu.Lock()
				crashLog = append(crashLog, fmt.Sprintf("%v\n%s", p, debug.Stack()))
				crashMu.Unlock()
			}
		}()
		start := time.Now()
		defer func() {
			d := int64(time.Since(start))
			for {
				s := slowest.Load()
				if d <= s || slowest.CompareAndSwap(s, d) {
					break
				}
			}
			handled.Add(1)
		}()
		// No deadline and no context timeout: the dispatcher's own
		// HandshakeTimeout must end every handshake.
		m := c.(*MuxConn)
		if err := m.HandshakeContext(context.Background()); err != nil {
			return
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(m).ReadString('\n')
		if err == nil {
			_, _ = m.Write([]byte(line))
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go serveConn(c)
		}
	}()

	rng := rand.New(rand.NewPCG(9, 12))
	corpus, valid := badHelloCorpus(t, rng)
	nValid := len(valid) // the first inputs: complete hellos, kept open

	// Real clients, served throughout: a PSK device and a certificate
	// client, in a loop while the corpus runs.
	healthy := func() error {
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return err
		}
		pc := Client(nc, testClientConfig(t))
		defer pc.Close()
		if err := echoLine(pc, "psk\n"); err != nil {
			return fmt.Errorf("PSK client: %w", err)
		}
		tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
		if err != nil {
			return fmt.Errorf("certificate client: %w", err)
		}
		defer tc.Close()
		if err := echoLine(tc, "cert\n"); err != nil {
			return fmt.Errorf("certificate client: %w", err)
		}
		return nil
	}
	stopHealth := make(chan struct{})
	healthErr := make(chan error, 1)
	var healthRuns atomic.Int64
	go func() {
		defer close(healthErr)
		for {
			select {
			case <-stopHealth:
				return
			default:
			}
			if err := healthy(); err != nil {
				healthErr <- err
				return
			}
			healthRuns.Add(1)
			time.Sleep(20 * time.Millisecond)
		}
	}()

	// Throw the corpus, a few connections at a time. The valid hellos
	// and every 100th input keep their write side open, so only the
	// handshake timeout (2 s) can end them.
	const limit = 4 * time.Second // "promptly": the handshake timeout + slack
	var (
		next    atomic.Int64
		alerts  atomic.Int64
		slowIn  atomic.Int64
		slowMu  sync.Mutex
		slowErr []string
		workers sync.WaitGroup
	)
	start := time.Now()
	for range 6 {
		workers.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(corpus) {
					return
				}
				r := throwInput(addr, corpus[i], i < nValid || i%100 == 99, limit)
				if r.alert {
					alerts.Add(1)
				}
				var ne net.Error
				if r.elapsed >= limit || (errors.As(r.err, &ne) && ne.Timeout()) {
					slowIn.Add(1)
					slowMu.Lock()
					slowErr = append(slowErr, fmt.Sprintf("input %d (%d bytes): not closed after %v (%v)", i, len(corpus[i]), r.elapsed, r.err))
					slowMu.Unlock()
				}
			}
		})
	}
	workers.Wait()
	corpusTime := time.Since(start)
	close(stopHealth)
	if err := <-healthErr; err != nil {
		t.Errorf("a real client was not served during the corpus: %v", err)
	}
	if err := healthy(); err != nil {
		t.Errorf("a real client was not served after the corpus: %v", err)
	}
	ln.Close()
	wg.Wait()

	// Leaks: every goroutine of the test is gone (goleak checks the
	// package again at exit).
	leaks := 0
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		leaks = max(0, runtime.NumGoroutine()-baseline)
		if leaks == 0 || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("%d inputs tried, %d crashes, %d leaks, %d not closed promptly; %d answered with an alert, the rest closed; %d healthy PSK+certificate rounds meanwhile; slowest server connection %v; %v",
		len(corpus), crashes.Load(), leaks, slowIn.Load(), alerts.Load(), healthRuns.Load(), time.Duration(slowest.Load()), corpusTime.Round(time.Millisecond))
	if n := crashes.Load(); n != 0 {
		t.Errorf("%d crashes:\n%s", n, crashLog[0])
	}
	if slowIn.Load() != 0 {
		t.Errorf("%d inputs not closed promptly, e.g. %s", slowIn.Load(), slowErr[0])
	}
	if int(handled.Load()) < len(corpus) {
		t.Errorf("the server handled %d connections for %d inputs", handled.Load(), len(corpus))
	}
	if leaks != 0 {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines left:\n%s", leaks, buf[:runtime.Stack(buf, true)])
	}
}
