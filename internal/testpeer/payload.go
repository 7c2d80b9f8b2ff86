package testpeer

import "strings"

// The payloads every interop peer generates the same way
// (tests/interop/node/client.js and tests/interop/python/client.py have
// copies): text of exactly size bytes built from 1-, 2-, 3- and 4-byte
// characters, so that frame boundaries of large messages fall inside
// characters; binary bytes counting modulo 251.
const textUnit = "aé€😀" // 1+2+3+4 = 10 bytes

// TextPayload is the interop text payload of size bytes.
func TextPayload(size int) []byte {
	return []byte(strings.Repeat(textUnit, size/len(textUnit)) + strings.Repeat("x", size%len(textUnit)))
}

// BinaryPayload is the interop binary payload of size bytes.
func BinaryPayload(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}
