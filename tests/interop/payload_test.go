package interop

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/wssproxy/wssproxy/ws"
)

// The payloads every peer generates the same way (node/client.js and
// python/client.py have copies): text of exactly size bytes built from
// 1-, 2-, 3- and 4-byte characters, so that frame boundaries of large
// messages fall inside characters; binary bytes counting modulo 251.
const textUnit = "aé€😀" // 1+2+3+4 = 10 bytes

func textPayload(size int) []byte {
	return []byte(strings.Repeat(textUnit, size/len(textUnit)) + strings.Repeat("x", size%len(textUnit)))
}

func binaryPayload(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

func payload(typ ws.MessageType, size int) []byte {
	if typ == ws.MessageText {
		return textPayload(size)
	}
	return binaryPayload(size)
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
