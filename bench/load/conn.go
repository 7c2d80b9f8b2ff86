package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"time"

	"github.com/wssproxy/wssproxy/tlsconf/psk"
	"github.com/wssproxy/wssproxy/ws"
)

// errCorrupt marks an echo that differs from what was sent: the target
// (or its upstream) changed, lost or reordered data. It fails the run, so
// a broken proxy cannot look fast.
var errCorrupt = errors.New("load: echo differs from the message sent")

// client dials the target with one set of options.
type client struct {
	url string
	tls *tls.Config // nil for ws://
	// tlsClient, if set, replaces crypto/tls for wss:// (TLS 1.3 PSK).
	tlsClient func(ctx context.Context, nc net.Conn, serverName string) (net.Conn, error)
}

// open dials one WebSocket connection with buffers of bufSize bytes (the
// client's own memory: small for idle connections). Every dial makes a
// full TLS handshake: no session cache is configured.
func (c *client) open(ctx context.Context, bufSize int) (*ws.Conn, error) {
	o := &ws.DialOptions{
		Options: ws.Options{
			ReadBufferSize:  bufSize,
			WriteBufferSize: bufSize,
			CloseTimeout:    5 * time.Second,
		},
		TLSConfig:        c.tls,
		TLSClient:        c.tlsClient,
		HandshakeTimeout: 30 * time.Second,
	}
	conn, _, err := ws.Dial(ctx, c.url, o)
	if err != nil {
		return nil, fmt.Errorf("load: dialing %s: %w", c.url, err)
	}
	return conn, nil
}

// tlsSummary names the version, cipher suite and key exchange of a
// connection.
func tlsSummary(c *ws.Conn) string {
	switch tc := c.NetConn().(type) {
	case *tls.Conn:
		cs := tc.ConnectionState()
		return fmt.Sprintf("%s %s %s", tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite), cs.CurveID)
	case *psk.Conn:
		cs := tc.ConnectionState()
		mode := "psk_dhe_ke"
		if cs.Group == 0 {
			mode = "psk_ke"
		}
		return fmt.Sprintf("PSK %s %s %s %s", tls.VersionName(cs.Version), psk.CipherSuiteName(cs.CipherSuite), cs.Group, mode)
	default:
		return "none (ws)"
	}
}

// payload makes the messages of one connection: each carries the
// connection's id and a sequence number in its first 16 bytes (so a
// replayed, reordered or cross-connection echo is caught), then bytes from
// a per-connection random block.
type payload struct {
	id   uint64
	seq  uint64
	msg  []byte // the message being sent
	echo []byte // where its echo is read into
}

func newPayload(id uint64, size int) *payload {
	if size < 16 {
		size = 16
	}
	p := &payload{id: id, msg: make([]byte, size), echo: make([]byte, size+1)}
	r := rand.New(rand.NewPCG(id, 0x9e3779b97f4a7c15))
	for i := 16; i < size; i += 8 {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], r.Uint64())
		copy(p.msg[i:], b[:])
	}
	return p
}

// next stamps the next sequence number and returns the message.
func (p *payload) next() []byte {
	p.seq++
	binary.BigEndian.PutUint64(p.msg[0:8], p.id)
	binary.BigEndian.PutUint64(p.msg[8:16], p.seq)
	// Vary one byte of the body too, so that a stale body is caught.
	if len(p.msg) > 16 {
		p.msg[16] ^= byte(p.seq)
	}
	return p.msg
}

// readMessage reads the next data message into buf and returns its type
// and length; n == len(buf) means the message filled buf (it may be
// longer: the rest is skipped by the next read).
func readMessage(ctx context.Context, c *ws.Conn, buf []byte) (ws.MessageType, int, error) {
	typ, r, err := c.Reader(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("load: reading the echo: %w", err)
	}
	n, err := io.ReadFull(r, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return typ, n, fmt.Errorf("load: reading the echo: %w", err)
	}
	return typ, n, nil
}

// checkEcho compares an echo with the message sent (binary).
func checkEcho(typ ws.MessageType, got, want []byte) error {
	if typ != ws.MessageBinary {
		return fmt.Errorf("%w: echo is %v, sent binary", errCorrupt, typ)
	}
	if len(got) > len(want) {
		return fmt.Errorf("%w: echo longer than the %d bytes sent", errCorrupt, len(want))
	}
	if len(got) != len(want) {
		return fmt.Errorf("%w: echo has %d bytes, sent %d", errCorrupt, len(got), len(want))
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && got[i] == want[i] {
			i++
		}
		return fmt.Errorf("%w: first difference at byte %d of %d", errCorrupt, i, len(got))
	}
	return nil
}

// readEcho reads the next message from c into buf (at least len(want)+1
// bytes) and checks that it is exactly want, as binary.
func readEcho(ctx context.Context, c *ws.Conn, want, buf []byte) error {
	typ, n, err := readMessage(ctx, c, buf[:len(want)+1])
	if err != nil {
		return err
	}
	return checkEcho(typ, buf[:n], want)
}

// roundTrip sends p's next message on c and checks its echo.
func roundTrip(ctx context.Context, c *ws.Conn, p *payload) error {
	msg := p.next()
	if err := c.WriteMessage(ctx, ws.MessageBinary, msg); err != nil {
		return fmt.Errorf("load: sending: %w", err)
	}
	return readEcho(ctx, c, msg, p.echo)
}
