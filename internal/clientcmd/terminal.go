package clientcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/wssproxy/wssproxy/tlsconf"
	"golang.org/x/term"
)

// terminal returns stdin as a file when it is a terminal, else nil. It
// looks at the descriptor without File.Fd, which would put it in
// blocking mode and so stop read deadlines from working on it.
func terminal(stdin io.Reader) *os.File {
	f, _ := stdin.(*os.File)
	if f == nil {
		return nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil
	}
	tty := false
	if rc.Control(func(fd uintptr) { tty = term.IsTerminal(int(fd)) }) != nil || !tty {
		return nil
	}
	return f
}

// readAnswer reads one line from the terminal f until ctx ends, a byte at
// a time so that nothing after it is taken from the input, and returns
// it trimmed and lower-cased. End of input (Ctrl-D) before a newline is
// io.EOF.
func readAnswer(ctx context.Context, f *os.File) (string, error) {
	var line []byte
	var b [1]byte
	for len(line) < 64 {
		if err := waitReadable(ctx, f); err != nil {
			return "", err
		}
		n, err := f.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			line = append(line, b[0])
			continue
		}
		if errors.Is(err, io.EOF) || err == nil {
			if len(line) == 0 {
				return "", io.EOF
			}
			break
		}
		return "", err
	}
	return strings.ToLower(strings.TrimSpace(string(line))), nil
}

// writeChain lists a chain for the terminal: per certificate its subject,
// issuer, validity, SHA-256 fingerprint and SPKI pin.
func writeChain(w io.Writer, chain []tlsconf.CertSummary) {
	const day = "2006-01-02 15:04:05 MST"
	for i, c := range chain {
		fmt.Fprintf(w, "  certificate %d: %s (issuer %s)\n    valid  %s to %s\n    sha256 %s\n    pin    %s\n",
			i, c.Subject, c.Issuer, c.NotBefore.UTC().Format(day), c.NotAfter.UTC().Format(day), c.Fingerprint, c.SPKIPin)
	}
}
