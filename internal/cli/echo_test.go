package cli

import (
	"bytes"
	"testing"
)

// echo --max-message-size takes sizes with units, like serve.
func TestEchoSizeFlag(t *testing.T) {
	t.Parallel()
	cfg, err := parseEchoFlags([]string{"--max-message-size", "64KiB"}, &bytes.Buffer{})
	if err != nil || cfg.maxMsg != 64<<10 {
		t.Fatalf("--max-message-size 64KiB: %d %v", cfg.maxMsg, err)
	}
}
