package interop

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/wssproxy/wssproxy/internal/testpeer"
	"github.com/wssproxy/wssproxy/ws"
)

// payload is the interop payload of typ (testpeer.TextPayload or
// testpeer.BinaryPayload) of size bytes.
func payload(typ ws.MessageType, size int) []byte {
	if typ == ws.MessageText {
		return testpeer.TextPayload(size)
	}
	return testpeer.BinaryPayload(size)
}

func sha(p []byte) string {
	s := sha256.Sum256(p)
	return hex.EncodeToString(s[:])
}

// fragText is sent split at every byte, so every multi-byte character
// spans several fragments.
const fragText = "a€😀é✓z"

// Sizes of the echo cases: around the 7-bit, 16-bit and 64-bit length
// encodings (RFC 6455 §5.2), plus a 16 MiB message that spans many frames
// of our default 512 KiB outgoing frame size.
var echoSizes = []int{0, 1, 125, 126, 65535, 65536, 16 << 20}

// maxMessage is the incoming message limit set on both sides.
const maxMessage = 64 << 20

// Close reasons used in both directions; the 4000 reason has multi-byte
// characters.
const closeReason4000 = "bye ✓ from 4000"

func typeName(t ws.MessageType) string {
	if t == ws.MessageText {
		return "text"
	}
	return "binary"
}
