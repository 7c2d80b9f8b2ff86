package netproxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// readHead reads an HTTP response head up to and including the empty
// line, failing with ErrResponseTooLarge beyond max bytes and with
// io.ErrUnexpectedEOF when the connection ends first (returning what it
// read).
func readHead(br *bufio.Reader, max int) ([]byte, error) {
	var head []byte
	for {
		line, err := br.ReadSlice('\n')
		head = append(head, line...)
		if len(head) > max {
			return nil, fmt.Errorf("%w (more than %d bytes)", ErrResponseTooLarge, max)
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return head, fmt.Errorf("proxy closed the connection after %d bytes: %w", len(head), io.ErrUnexpectedEOF)
		case err != nil:
			return head, err
		}
		if bytes.HasSuffix(head, []byte("\n\r\n")) || bytes.HasSuffix(head, []byte("\n\n")) {
			return head, nil
		}
	}
}

// printable bounds s to 200 bytes and replaces control characters and
// invalid UTF-8, so that proxy-supplied text is safe to show.
func printable(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == 0xfffd {
			return '?'
		}
		return r
	}, s)
}
