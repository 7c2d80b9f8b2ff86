package psk

import (
	"fmt"
	"io"
)

// The record layer (RFC 8446 §5). Callers hold c.in for reading and c.out
// for writing.

// fill reads from the connection until c.raw holds at least n bytes. A
// timeout keeps what was read, so a later Read resumes the record.
func (c *Conn) fill(n int) error {
	for len(c.raw) < n {
		if cap(c.raw)-len(c.raw) < 1024 || cap(c.raw) < n {
			nb := make([]byte, len(c.raw), max(n, 2*cap(c.raw), 4096))
			copy(nb, c.raw)
			c.raw = nb
		}
		m, err := c.conn.Read(c.raw[len(c.raw):cap(c.raw)])
		c.raw = c.raw[:len(c.raw)+m]
		if err != nil && len(c.raw) >= n {
			return nil
		}
		if err == io.EOF {
			if len(c.raw) == 0 {
				return io.EOF // closed at a record boundary, as crypto/tls reports it
			}
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// readRecord reads and processes one record: handshake bytes go to
// c.hand, application data to c.input, alerts end the connection.
func (c *Conn) readRecord() error {
	if c.in.err != nil {
		return c.in.err
	}
	for {
		if err := c.fill(recordHeaderLen); err != nil {
			return err
		}
		typ := c.raw[0]
		n := int(c.raw[3])<<8 | int(c.raw[4])
		if c.raw[1] != 3 {
			return localAlert(AlertDecodeError, "not a TLS record")
		}
		if (c.in.aead == nil && n > maxPlaintext) || n > maxCiphertext {
			return localAlert(AlertRecordOverflow, fmt.Sprintf("record of %d bytes", n))
		}
		if err := c.fill(recordHeaderLen + n); err != nil {
			return err
		}
		hdr := c.raw[:recordHeaderLen]
		body := c.raw[recordHeaderLen : recordHeaderLen+n]
		c.raw = c.raw[recordHeaderLen+n:]

		// §5: a single 0x01 ChangeCipherSpec is dropped during the
		// handshake, unprotected, whatever the current keys.
		if typ == recordChangeCipherSpec {
			if !c.ccsOK || n != 1 || body[0] != 1 {
				return localAlert(AlertUnexpectedMessage, "unexpected ChangeCipherSpec")
			}
			if err := c.uselessRecord(); err != nil {
				return err
			}
			continue
		}
		if c.in.aead != nil {
			if typ == recordAlert && !c.handshakeDone.Load() && n == 2 {
				// A peer that failed before installing keys alerts in clear.
				return c.handleAlert(body)
			}
			if typ != recordApplicationData {
				return localAlert(AlertUnexpectedMessage, fmt.Sprintf("unprotected record of type %d", typ))
			}
			plain, err := c.in.aead.Open(body[:0], c.in.nonce(), body, hdr)
			if err != nil {
				if c.skipFailed && c.earlySkip >= n {
					c.earlySkip -= n // refused 0-RTT data (§4.2.10)
					continue
				}
				return localAlert(AlertBadRecordMAC, "record authentication failed")
			}
			c.skipFailed = false
			c.in.seq++
			// TLSInnerPlaintext: strip the zero padding, the last non-zero
			// byte is the real content type (§5.4).
			i := len(plain) - 1
			for i >= 0 && plain[i] == 0 {
				i--
			}
			if i < 0 {
				return localAlert(AlertUnexpectedMessage, "record without content type")
			}
			typ, body = plain[i], plain[:i]
			if len(body) > maxPlaintext {
				return localAlert(AlertRecordOverflow, "plaintext over 2^14 bytes")
			}
		} else if typ == recordApplicationData {
			if c.earlySkip >= n && !c.isClient {
				c.earlySkip -= n // 0-RTT data sent before our HelloRetryRequest
				continue
			}
			return localAlert(AlertUnexpectedMessage, "application data before the handshake keys")
		}

		switch typ {
		case recordAlert:
			return c.handleAlert(body)
		case recordHandshake:
			if len(body) == 0 {
				return localAlert(AlertUnexpectedMessage, "empty handshake record")
			}
			if len(c.hand)+len(body) > maxHandshakeSize+4 {
				return localAlert(AlertUnexpectedMessage, "handshake message too large")
			}
			c.hand = append(c.hand, body...)
			c.useless = 0
			return nil
		case recordApplicationData:
			if !c.handshakeDone.Load() {
				return localAlert(AlertUnexpectedMessage, "application data during the handshake")
			}
			if len(body) == 0 {
				if err := c.uselessRecord(); err != nil {
					return err
				}
				continue
			}
			c.input = append(c.input[:0], body...)
			c.useless = 0
			return nil
		default:
			return localAlert(AlertUnexpectedMessage, fmt.Sprintf("record of unknown type %d", typ))
		}
	}
}

func (c *Conn) uselessRecord() error {
	c.useless++
	if c.useless > maxUselessRecords {
		return localAlert(AlertUnexpectedMessage, "too many records without data")
	}
	return nil
}

// handleAlert processes a received alert (§6): close_notify is a clean
// EOF, user_canceled is ignored, everything else is fatal.
func (c *Conn) handleAlert(body []byte) error {
	if len(body) != 2 {
		return localAlert(AlertDecodeError, "malformed alert")
	}
	switch Alert(body[1]) {
	case AlertCloseNotify:
		if !c.handshakeDone.Load() {
			return &AlertError{Alert: AlertCloseNotify, Remote: true}
		}
		return io.EOF
	case AlertUserCanceled:
		if err := c.uselessRecord(); err != nil {
			return err
		}
		return c.readRecord()
	}
	return &AlertError{Alert: Alert(body[1]), Remote: true}
}

// nextHandshakeMessage takes one complete message from c.hand; ok is false
// when more bytes are needed.
func (c *Conn) nextHandshakeMessage() (msg []byte, ok bool, err error) {
	if len(c.hand) < 4 {
		return nil, false, nil
	}
	n := int(c.hand[1])<<16 | int(c.hand[2])<<8 | int(c.hand[3])
	if n > maxHandshakeSize {
		return nil, false, localAlert(AlertUnexpectedMessage, fmt.Sprintf("handshake message of %d bytes", n))
	}
	if len(c.hand) < 4+n {
		return nil, false, nil
	}
	msg = append([]byte(nil), c.hand[:4+n]...)
	c.hand = c.hand[4+n:]
	if len(c.hand) == 0 {
		c.hand = nil
	}
	return msg, true, nil
}

// readHandshake returns the next handshake message, which must be of type
// want (unexpected_message otherwise).
func (c *Conn) readHandshake(want uint8) ([]byte, error) {
	for {
		msg, ok, err := c.nextHandshakeMessage()
		if err != nil {
			return nil, err
		}
		if ok {
			if msg[0] != want {
				return nil, localAlert(AlertUnexpectedMessage, fmt.Sprintf("handshake message type %d, want %d", msg[0], want))
			}
			return msg, nil
		}
		if err := c.readRecord(); err != nil {
			return nil, err
		}
	}
}

// atRecordBoundary is checked before every key change: handshake messages
// must not span a key change (§5.1).
func (c *Conn) atRecordBoundary() error {
	if len(c.hand) != 0 {
		return localAlert(AlertUnexpectedMessage, "handshake data spans a key change")
	}
	return nil
}

// writeRecordLocked appends one record to the send buffer, protected if
// write keys are installed.
func (c *Conn) writeRecordLocked(typ uint8, data []byte) error {
	if c.out.err != nil {
		return c.out.err
	}
	for len(data) > 0 || typ == recordApplicationData {
		m := min(len(data), maxPlaintext)
		frag := data[:m]
		data = data[m:]
		if c.out.aead == nil {
			vers := versionTLS12
			if c.firstRecord {
				vers = 0x0301 // §5.1: legacy_record_version of an initial ClientHello
				c.firstRecord = false
			}
			c.sendBuf = append(c.sendBuf, typ, byte(vers>>8), byte(vers), byte(m>>8), byte(m))
			c.sendBuf = append(c.sendBuf, frag...)
		} else {
			n := m + 1 + c.out.aead.Overhead()
			start := len(c.sendBuf)
			c.sendBuf = append(c.sendBuf, recordApplicationData, 3, 3, byte(n>>8), byte(n))
			hdr := c.sendBuf[start : start+recordHeaderLen]
			inner := append(append(make([]byte, 0, m+1+c.out.aead.Overhead()), frag...), typ)
			sealed := c.out.aead.Seal(inner[:0], c.out.nonce(), inner, hdr)
			c.sendBuf = append(c.sendBuf[:start+recordHeaderLen], sealed...)
			c.out.seq++
		}
		if typ == recordApplicationData && len(data) == 0 {
			break
		}
	}
	return nil
}

// writeChangeCipherSpecLocked sends the middlebox-compatibility
// ChangeCipherSpec (§D.4), always in clear.
func (c *Conn) writeChangeCipherSpecLocked() {
	c.sendBuf = append(c.sendBuf, recordChangeCipherSpec, 3, 3, 0, 1, 1)
}

func (c *Conn) flushLocked() error {
	if len(c.sendBuf) == 0 {
		return nil
	}
	_, err := c.conn.Write(c.sendBuf)
	c.sendBuf = c.sendBuf[:0]
	if err != nil && c.out.err == nil {
		c.out.err = fmt.Errorf("psk: write: %w", err)
	}
	return err
}

// writeHandshakeLocked appends a handshake message (records of at most
// 16 KiB) and adds it to the transcript.
func (c *Conn) writeHandshakeLocked(msg []byte, t *transcript) error {
	if t != nil {
		t.Write(msg)
	}
	return c.writeRecordLocked(recordHandshake, msg)
}
