package tlsconf

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wssproxy/wssproxy/internal/privatefile"
)

// DefaultPinsFileName is the pins file's name in wssproxy's state
// directory.
const DefaultPinsFileName = "known_pins"

// DefaultWatchInterval is how often a FileStore's Watch looks at the file
// unless FileStoreOptions.WatchInterval says otherwise.
const DefaultWatchInterval = time.Second

// maxPinsFileSize bounds the pins file read.
const maxPinsFileSize = 4 << 20

// ErrInsecurePinsFile is returned for a pins file that the group or
// others may access (any of the permission bits 0o077), as for PSK key
// files: whoever can write it chooses which keys are trusted.
var ErrInsecurePinsFile = errors.New("tlsconf: pins file is accessible by group or others (chmod 600)")

// FileStoreOptions configure a FileStore; nil or zero fields mean the
// defaults.
type FileStoreOptions struct {
	// WatchInterval is how often Watch polls the file's modification
	// time and size; default DefaultWatchInterval, at least 10ms, at
	// most a minute.
	WatchInterval time.Duration
}

// FileStore is the default TrustStore: a text file a person may read and
// edit, in the manner of OpenSSH's known_hosts. Each line is
//
//	SERVER PIN [kinds=KIND,...] [added=RFC3339] [source=SOURCE] [by=WHO] [# note]
//
// where SERVER is HOST:PORT (or a TLS server name) and PIN a pin as
// ParsePin reads it; blank lines and "#" comments are kept when the file
// is rewritten. A malformed line is an error naming the file and line.
// The file must not be accessible by group or others (ErrInsecurePinsFile);
// it is written with mode 0600 in a directory of mode 0700, atomically (a
// temporary file renamed over it), and every change takes an exclusive
// lock on FILE.lock and reads the file again first, so that processes
// writing at once never lose each other's entries. Readers take no lock.
type FileStore struct {
	path     string
	interval time.Duration
}

// NewFileStore returns the store kept in path (created on the first
// write). opts is copied; nil means defaults.
func NewFileStore(path string, opts *FileStoreOptions) (*FileStore, error) {
	if path == "" {
		return nil, errors.New("tlsconf: pins file: empty path")
	}
	s := &FileStore{path: filepath.Clean(path), interval: DefaultWatchInterval}
	if opts != nil && opts.WatchInterval > 0 {
		s.interval = min(max(opts.WatchInterval, 10*time.Millisecond), time.Minute)
	}
	return s, nil
}

// Path returns the file's path.
func (s *FileStore) Path() string { return s.path }

// storeLine is one line of the file: an entry (ok) or text kept as is.
type storeLine struct {
	text  string
	entry PinEntry
	ok    bool
}

// Pins lists every entry, in file order.
func (s *FileStore) Pins(ctx context.Context) ([]PinEntry, error) {
	lines, err := s.read(ctx)
	if err != nil {
		return nil, err
	}
	var out []PinEntry
	for _, l := range lines {
		if l.ok {
			out = append(out, l.entry)
		}
	}
	return out, nil
}

// PinsFor lists the entries for server (compared without regard to
// letter case).
func (s *FileStore) PinsFor(ctx context.Context, server string) ([]PinEntry, error) {
	all, err := s.Pins(ctx)
	if err != nil {
		return nil, err
	}
	var out []PinEntry
	for _, e := range all {
		if strings.EqualFold(e.Server, server) {
			out = append(out, e)
		}
	}
	return out, nil
}

// PutPin adds e, or replaces the line with its server and pin (keeping
// that line's place and, if e has no note, its note).
func (s *FileStore) PutPin(ctx context.Context, e PinEntry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	return s.update(ctx, func(lines []storeLine) ([]storeLine, bool) {
		for i, l := range lines {
			if l.ok && sameEntry(l.entry, e.Server, e.Pin) {
				if e.Note == "" {
					e.Note = l.entry.Note
				}
				lines[i] = storeLine{entry: e, ok: true}
				return lines, true
			}
		}
		return append(lines, storeLine{entry: e, ok: true}), true
	})
}

// DeletePin removes the lines for server and pin.
func (s *FileStore) DeletePin(ctx context.Context, server string, pin Pin) (bool, error) {
	found := false
	err := s.update(ctx, func(lines []storeLine) ([]storeLine, bool) {
		kept := lines[:0]
		for _, l := range lines {
			if l.ok && sameEntry(l.entry, server, pin) {
				found = true
				continue
			}
			kept = append(kept, l)
		}
		return kept, found
	})
	return found, err
}

func sameEntry(e PinEntry, server string, pin Pin) bool {
	return strings.EqualFold(e.Server, server) && e.Pin == pin
}

// Watch polls the file every WatchInterval and signals a change of its
// modification time, size or identity (including its creation or
// removal). The goroutine it starts ends, closing the channel, when ctx
// does.
func (s *FileStore) Watch(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	last := s.stamp()
	go func() {
		defer close(ch)
		t := time.NewTicker(s.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if now := s.stamp(); now != last {
				last = now
				select {
				case ch <- struct{}{}:
				default: // one pending signal is enough
				}
			}
		}
	}()
	return ch
}

// fileStamp is what Watch compares.
type fileStamp struct {
	exists bool
	mod    time.Time
	size   int64
	ino    uint64
}

func (s *FileStore) stamp() fileStamp {
	fi, err := os.Stat(s.path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{exists: true, mod: fi.ModTime(), size: fi.Size(), ino: inode(fi)}
}

// read parses the file; a missing file is empty.
func (s *FileStore) read(ctx context.Context) ([]storeLine, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("tlsconf: pins file %s: %w", s.path, err)
	}
	data, err := privatefile.Read(s.path, maxPinsFileSize, ErrInsecurePinsFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case errors.Is(err, ErrInsecurePinsFile):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("tlsconf: pins file: %w", err)
	}
	return parsePinLines(s.path, data)
}

// parsePinLines parses the file's content; name is used in errors.
func parsePinLines(name string, data []byte) ([]storeLine, error) {
	var lines []storeLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxPinsFileSize)
	for n := 1; sc.Scan(); n++ {
		text := sc.Text()
		e, ok, err := parsePinLine(text)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		e.Line = n
		lines = append(lines, storeLine{text: text, entry: e, ok: ok})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return lines, nil
}

// pinLineSyntax is the line's syntax, for errors.
const pinLineSyntax = `want "HOST:PORT PIN [kinds=KIND,...] [added=TIME] [source=SOURCE] [by=WHO]"`

// parsePinLine parses one line: ok false for a blank or comment line.
func parsePinLine(text string) (PinEntry, bool, error) {
	body, note, _ := strings.Cut(text, "#")
	fields := strings.Fields(body)
	if len(fields) == 0 {
		return PinEntry{}, false, nil
	}
	if len(fields) < 2 || strings.Contains(fields[0], "=") {
		return PinEntry{}, false, errors.New(pinLineSyntax)
	}
	e := PinEntry{Server: fields[0], Note: strings.TrimSpace(note)}
	p, err := ParsePin(fields[1])
	if err != nil {
		return PinEntry{}, false, err
	}
	e.Pin = p
	seen := map[string]bool{}
	for _, f := range fields[2:] {
		k, v, ok := strings.Cut(f, "=")
		if !ok || v == "" || seen[k] {
			return PinEntry{}, false, fmt.Errorf("%q: %s, each option once", f, pinLineSyntax)
		}
		seen[k] = true
		switch k {
		case "kinds":
			for _, name := range strings.Split(v, ",") {
				kind, err := ParseErrorKind(name)
				if err != nil {
					return PinEntry{}, false, err
				}
				e.Kinds = append(e.Kinds, kind)
			}
		case "added":
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return PinEntry{}, false, fmt.Errorf("added=%q: want an RFC 3339 time", v)
			}
			e.Added = t
		case "source":
			src, err := ParsePinSource(v)
			if err != nil {
				return PinEntry{}, false, err
			}
			e.Source = src
		case "by":
			e.By = v
		default:
			return PinEntry{}, false, fmt.Errorf("unknown option %q: %s", k, pinLineSyntax)
		}
	}
	return e, true, nil
}

// formatPinLine writes e as a line (without the newline).
func formatPinLine(e PinEntry) string {
	var b strings.Builder
	b.WriteString(e.Server)
	b.WriteByte(' ')
	b.WriteString(e.Pin.String())
	if len(e.Kinds) > 0 {
		b.WriteString(" kinds=")
		for i, k := range e.Kinds {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(k.String())
		}
	}
	if !e.Added.IsZero() {
		b.WriteString(" added=")
		b.WriteString(e.Added.UTC().Format(time.RFC3339))
	}
	if e.Source != SourceUnknown {
		b.WriteString(" source=")
		b.WriteString(e.Source.String())
	}
	if e.By != "" {
		b.WriteString(" by=")
		b.WriteString(e.By)
	}
	if note := oneLine(e.Note); note != "" {
		b.WriteString(" # ")
		b.WriteString(note)
	}
	return b.String()
}

// oneLine keeps a note on its line: control characters become spaces,
// and the note is trimmed as parsing trims it.
func oneLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s))
}

// update runs change on the file's lines under the lock, reading the file
// afresh, and writes the result if change reports a change.
func (s *FileStore) update(ctx context.Context, change func([]storeLine) ([]storeLine, bool)) error {
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("tlsconf: pins file: %w", err)
	}
	unlock, err := lockFile(ctx, s.path+".lock")
	if err != nil {
		return err
	}
	defer unlock()
	lines, err := s.read(ctx)
	if err != nil {
		return err
	}
	lines, changed := change(lines)
	if !changed {
		return nil
	}
	var buf bytes.Buffer
	for _, l := range lines {
		if l.ok && l.text == "" {
			l.text = formatPinLine(l.entry)
		}
		buf.WriteString(l.text)
		buf.WriteByte('\n')
	}
	if err := privatefile.WriteAtomic(s.path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("tlsconf: pins file: %w", err)
	}
	return nil
}
