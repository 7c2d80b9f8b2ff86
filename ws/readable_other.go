//go:build !linux

package ws

import "syscall"

// waitReadable is only implemented on Linux; elsewhere the read buffer is
// attached at once and kept while idle.
func waitReadable(rc syscall.RawConn) error { return nil }
