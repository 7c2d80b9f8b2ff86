// Package ws implements the WebSocket protocol (RFC 6455) as a client and
// server endpoint with the capabilities of Qt's QWebSocket.
package ws
