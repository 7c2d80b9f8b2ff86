// Package thirdparty compares package ws with other Go WebSocket
// libraries (gorilla/websocket, coder/websocket) in benchmarks. It has
// no code of its own: the benchmarks are in its test files, and the
// libraries are dependencies of the tests module only, as coder/websocket
// keeps its own comparisons in internal/thirdparty.
package thirdparty
