//go:build !unix

package tlsconf

import (
	"context"
	"errors"
	"io/fs"
)

// lockFile fails where flock is not available: without it, concurrent
// writers could lose entries, so a FileStore there is read-only.
func lockFile(ctx context.Context, path string) (func(), error) {
	return nil, errors.New("tlsconf: pins file lock " + path + ": file locking is not supported on this system; the pins file is read-only here")
}

// inode is 0 where the file system's inode is not exposed.
func inode(fs.FileInfo) uint64 { return 0 }
