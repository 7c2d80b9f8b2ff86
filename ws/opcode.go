package ws

import "strconv"

// OpCode is a WebSocket frame opcode (RFC 6455 §5.2).
type OpCode byte

// The opcodes defined by RFC 6455 §5.2; the others are reserved.
const (
	OpContinuation OpCode = 0x0
	OpText         OpCode = 0x1
	OpBinary       OpCode = 0x2
	OpClose        OpCode = 0x8
	OpPing         OpCode = 0x9
	OpPong         OpCode = 0xA
)

// IsControl reports whether op is a control opcode (close, ping, pong or a
// reserved control opcode 0xB-0xF).
func (op OpCode) IsControl() bool { return op&0x8 != 0 }

// IsData reports whether op is a data opcode (continuation, text, binary or
// a reserved data opcode 0x3-0x7).
func (op OpCode) IsData() bool { return op&0x8 == 0 }

// IsReserved reports whether op is one of the opcodes RFC 6455 reserves
// (0x3-0x7, 0xB-0xF); receiving one fails the connection with 1002.
func (op OpCode) IsReserved() bool {
	switch op {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
		return false
	}
	return true
}

// String returns the opcode's name, or its hex value for reserved opcodes.
func (op OpCode) String() string {
	switch op {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return "opcode(0x" + strconv.FormatUint(uint64(op), 16) + ")"
}

// MessageType is the type of a data message: MessageText or MessageBinary.
type MessageType = OpCode

// Message types, the opcodes of a message's first frame.
const (
	MessageText   MessageType = OpText
	MessageBinary MessageType = OpBinary
)
