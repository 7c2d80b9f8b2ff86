package admin

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrInsecureTokenFile is returned by LoadToken for a token file that its
// group or others may access.
var ErrInsecureTokenFile = errors.New("admin: token file is accessible by group or others (chmod 600)")

// MinTokenLength is the shortest token LoadToken accepts, in bytes.
const MinTokenLength = 16

// LoadToken reads a bearer token from path: the file's content without
// surrounding white space. The file must be a regular file that only its
// owner may access (mode 0600 or stricter), and the token at least
// MinTokenLength bytes without inner white space; generate one with
// "openssl rand -hex 32 > F && chmod 600 F".
func LoadToken(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("admin: token file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("admin: token file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("admin: token file %s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %v", ErrInsecureTokenFile, path, fi.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(f, 4097))
	if err != nil {
		return nil, fmt.Errorf("admin: token file %s: %w", path, err)
	}
	if len(data) > 4096 {
		return nil, fmt.Errorf("admin: token file %s is larger than 4 KiB", path)
	}
	tok := bytes.TrimSpace(data)
	switch {
	case len(tok) < MinTokenLength:
		return nil, fmt.Errorf("admin: token in %s is %d bytes, fewer than %d", path, len(tok), MinTokenLength)
	case bytes.ContainsAny(tok, " \t\r\n"):
		return nil, fmt.Errorf("admin: token in %s contains white space", path)
	}
	for _, c := range tok {
		if c < 0x21 || c > 0x7e {
			return nil, fmt.Errorf("admin: token in %s contains a byte that is not printable ASCII", path)
		}
	}
	return tok, nil
}
