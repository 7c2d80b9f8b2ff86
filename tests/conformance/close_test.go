package conformance

import (
	"fmt"
	"strings"
	"testing"
)

// Autobahn section 7: the closing handshake.
//
// Where Autobahn accepts either 1000 or the echoed code (7.7.x) we require
// the echoed code and reason, as the echo server promises; where it
// accepts 1002 or 1007 for an invalid reason (7.5.1) we require 1007; the
// cases it grades INFORMATIONAL (7.1.6, 7.13.x) are graded strictly here.
func section7() []acase {
	hello := "Hello World!"
	close1000 := closeFrame(closePayload(1000, ""))
	big := string(repeat("BAsd7&jh23", 256<<10))
	cs := []acase{
		{id: "7.1.1", desc: "message, then close", send: []frame{text(true, hello)}, expect: []event{textEv(hello)}, closeCode: 1000},
		{id: "7.1.2", desc: "two close frames: the second is ignored",
			send: []frame{close1000, closeFrame(nil)}, clientClosed: true, dataAfterClose: true, closeCode: 1000},
		{id: "7.1.3", desc: "ping after close is not answered",
			send: []frame{close1000, ping("")}, clientClosed: true, dataAfterClose: true, closeCode: 1000},
		{id: "7.1.4", desc: "text after close is not echoed",
			send: []frame{close1000, text(true, hello)}, clientClosed: true, dataAfterClose: true, closeCode: 1000},
		{id: "7.1.5", desc: "fragment, close, last fragment: the message is dropped",
			send: []frame{text(false, "fragment1"), close1000, cont(true, "fragment2")}, clientClosed: true, dataAfterClose: true, closeCode: 1000},
		// Autobahn: INFORMATIONAL. The echo server reads in order, so both
		// messages are echoed before the close is answered.
		{id: "7.1.6", desc: "256 KiB message, text, close, ping: both echoed, ping ignored",
			send:   []frame{text(true, big), text(true, hello), close1000, ping("")},
			expect: []event{textEv(big), textEv(hello)}, clientClosed: true, dataAfterClose: true, closeCode: 1000},
		{id: "7.3.1", desc: "close without payload is answered without payload",
			send: []frame{closeFrame(nil)}, clientClosed: true, closeCode: -1},
		{id: "7.3.2", desc: "close with a 1-byte payload -> 1002",
			send: []frame{closeFrame([]byte("a"))}, serverFails: true, closeCode: 1002},
		{id: "7.3.3", desc: "close 1000 without reason",
			send: []frame{close1000}, clientClosed: true, closeCode: 1000},
		{id: "7.3.4", desc: "close 1000 with a reason",
			send: []frame{closeFrame(closePayload(1000, hello))}, clientClosed: true, closeCode: 1000, closeReason: hello},
		{id: "7.3.5", desc: "close 1000 with a 123-byte reason",
			send: []frame{closeFrame(closePayload(1000, strings.Repeat("*", 123)))}, clientClosed: true, closeCode: 1000, closeReason: strings.Repeat("*", 123)},
		{id: "7.3.6", desc: "close 1000 with a 124-byte reason (126-byte payload) -> 1002",
			send: []frame{closeFrame(closePayload(1000, strings.Repeat("*", 124)))}, serverFails: true, closeCode: 1002},
		{id: "7.5.1", desc: "close with a reason that is not UTF-8 -> 1007",
			send: []frame{closeFrame(closePayload(1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64"))}, serverFails: true, closeCode: 1007},
		{id: "7.extra.multibytereason", desc: "close with a 123-byte multi-byte UTF-8 reason is echoed whole",
			send:         []frame{closeFrame(closePayload(4000, strings.Repeat("é", 61)+"!"))},
			clientClosed: true, closeCode: 4000, closeReason: strings.Repeat("é", 61) + "!"},
		{id: "7.extra.chop1", desc: "close 3000 with a reason in 1-byte chops",
			send:         []frame{withChop(closeFrame(closePayload(3000, hello)), 1)},
			clientClosed: true, closeCode: 3000, closeReason: hello},
	}
	// 7.7.x: valid codes are echoed (Autobahn's list), plus 1012-1014,
	// registered since Autobahn's list was made.
	valid := []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999}
	for i, code := range valid {
		cs = append(cs, acase{id: fmt.Sprintf("7.7.%d", i+1), desc: fmt.Sprintf("close with valid code %d is echoed", code),
			send: []frame{closeFrame(closePayload(uint16(code), ""))}, clientClosed: true, closeCode: code})
	}
	for _, code := range []int{1012, 1013, 1014} {
		cs = append(cs, acase{id: fmt.Sprintf("7.7.extra.%d", code), desc: fmt.Sprintf("close with valid code %d is echoed", code),
			send:         []frame{closeFrame(closePayload(uint16(code), "r"))},
			clientClosed: true, closeCode: code, closeReason: "r"})
	}
	// 7.9.x: invalid codes fail with 1002 (Autobahn's list), plus 1015,
	// which must never be sent (RFC 6455 §7.4.1).
	invalid := []int{0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999}
	for i, code := range invalid {
		cs = append(cs, acase{id: fmt.Sprintf("7.9.%d", i+1), desc: fmt.Sprintf("close with invalid code %d -> 1002", code),
			send: []frame{closeFrame(closePayload(uint16(code), ""))}, serverFails: true, closeCode: 1002})
	}
	cs = append(cs, acase{id: "7.9.extra.1015", desc: "close with invalid code 1015 -> 1002",
		send: []frame{closeFrame(closePayload(1015, ""))}, serverFails: true, closeCode: 1002})
	// 7.13.x: Autobahn INFORMATIONAL; RFC 6455 §7.4.2 leaves 5000+ undefined,
	// so the server treats them as invalid.
	for i, code := range []int{5000, 65535} {
		cs = append(cs, acase{id: fmt.Sprintf("7.13.%d", i+1), desc: fmt.Sprintf("close with code %d -> 1002", code),
			send: []frame{closeFrame(closePayload(uint16(code), ""))}, serverFails: true, closeCode: 1002})
	}
	return cs
}

func TestSection7Close(t *testing.T) {
	runCases(t, startTargets(t, nil), section7())
}
