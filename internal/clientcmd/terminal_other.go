//go:build !unix

package clientcmd

import (
	"context"
	"os"
)

// waitReadable cannot wait for a terminal's input here: the read that
// follows blocks until a line is typed (the question is then bounded
// only by the process's end).
func waitReadable(ctx context.Context, _ *os.File) error { return context.Cause(ctx) }
