package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/ws"
)

// rssBound is the stated bound on the binary's peak RSS (VmHWM) while
// 1 GiB crosses it each way.
const rssBound = 64 << 20

// A 1 GiB message each way through the real binary (wss client leg, ws
// upstream; client and upstream in this process, streamed): up as one
// single 1 GiB frame, down as a fragmented message. The binary's peak RSS
// (VmHWM) stays under rssBound. Always measured on a binary built without
// -race, as shipped.
func TestHeavyOneGiBThroughBinary(t *testing.T) {
	bin := heavyBinary(t)
	const size = 1 << 30
	ctx := testpeer.Context(t, 5*time.Minute)

	type got struct {
		n   int64
		sum string
		err error
	}
	upGot := make(chan got, 1)
	downErr := make(chan error, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := ws.Accept(w, r, &ws.AcceptOptions{Options: ws.Options{MaxIncomingFrameSize: -1, MaxIncomingMessageSize: -1}})
		if err != nil {
			upGot <- got{err: err}
			return
		}
		defer c.Abort()
		n, sum, err := readHashed(ctx, c)
		upGot <- got{n, sum, err}
		if err != nil {
			return
		}
		// Down: a fragmented message (the ws Writer's 512 KiB frames).
		wr, err := c.Writer(ctx, ws.MessageBinary)
		if err == nil {
			err = writePattern(wr, size)
		}
		if err == nil {
			err = wr.Close()
		}
		downErr <- err
		if err == nil {
			_, _, _ = c.ReadMessage(ctx) // the client's close
		}
	})}
	go hs.Serve(ln)
	defer hs.Close()

	px := startServeBin(t, bin, append(devCert(), "--upstream", "ws://"+ln.Addr().String()+"/",
		"--max-frame-size", "-1", "--max-message-size", "-1", "--log-level", "info")...)
	pid := px.cmd.Process.Pid
	base := procStatus(t, pid, "VmRSS")

	c, _, err := ws.Dial(ctx, px.url, &ws.DialOptions{TLSConfig: devRoots(t), Options: ws.Options{MaxIncomingFrameSize: -1, MaxIncomingMessageSize: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort()

	start := time.Now()
	// Up: one frame of 1 GiB, streamed from a generator.
	if err := c.WriteFrameFrom(ctx, ws.Header{Fin: true, OpCode: ws.OpBinary, Length: size}, &patternReader{left: size}); err != nil {
		t.Fatalf("client writing: %v", err)
	}
	var up got
	select {
	case up = <-upGot:
	case <-ctx.Done():
		t.Fatal("upstream received nothing")
	}
	upTook := time.Since(start)
	want := patternSum(size)
	if up.err != nil || up.n != size || up.sum != want {
		t.Fatalf("upstream got %d bytes, sha256 %s, err %v; want %d, %s", up.n, up.sum, up.err, size, want)
	}
	start = time.Now()
	n, sum, err := readHashed(ctx, c)
	if err != nil || n != size || sum != want {
		t.Fatalf("client got %d bytes, sha256 %s, err %v; want %d, %s", n, sum, err, size, want)
	}
	downTook := time.Since(start)
	if err := <-downErr; err != nil {
		t.Fatalf("upstream writing: %v", err)
	}
	if err := c.Close(ws.StatusNormalClosure, "done"); err != nil {
		t.Errorf("close: %v", err)
	}
	hwm := procStatus(t, pid, "VmHWM")
	t.Logf("1 GiB up (one frame) in %v, down (fragmented) in %v; wssproxy VmRSS before %.1f MiB, peak VmHWM %.1f MiB (bound %d MiB)",
		upTook.Round(time.Millisecond), downTook.Round(time.Millisecond), float64(base)/(1<<20), float64(hwm)/(1<<20), rssBound>>20)
	if hwm > rssBound {
		t.Fatalf("wssproxy peak RSS %d bytes > %d: memory not bounded", hwm, rssBound)
	}
}

// readHashed reads one message streamed, returning its length and SHA-256.
func readHashed(ctx context.Context, c *ws.Conn) (int64, string, error) {
	_, r, err := c.Reader(ctx)
	if err != nil {
		return 0, "", err
	}
	h := sha256.New()
	n, err := io.CopyBuffer(h, r, make([]byte, 1<<20))
	return n, fmt.Sprintf("%x", h.Sum(nil)), err
}

// patternReader yields size bytes counting modulo 251.
type patternReader struct {
	left, off int64
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(b)), p.left))
	for i := range n {
		b[i] = byte((p.off + int64(i)) % 251)
	}
	p.off += int64(n)
	p.left -= int64(n)
	return n, nil
}

func writePattern(w io.Writer, size int64) error {
	_, err := io.CopyBuffer(w, &patternReader{left: size}, make([]byte, 1<<20))
	return err
}

func patternSum(size int64) string {
	var h hash.Hash = sha256.New()
	_ = writePattern(h, size)
	return fmt.Sprintf("%x", h.Sum(nil))
}

// procStatus reads a "kB" field of /proc/PID/status, in bytes.
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	return procField(t, pid, field) << 10
}

// procField reads a number field of /proc/PID/status (its unit, if any,
// dropped).
func procField(t *testing.T, pid int, field string) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == field {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s: %q", field, v)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
