package psk

import (
	"errors"
	"fmt"
	"io"
	"slices"
)

// The record layer (RFC 8446 §5). Callers hold c.in for reading and c.out
// for writing.

// fill reads from the connection until c.raw holds at least n bytes. A
// timeout keeps what was read, so a later Read resumes the record.
func (c *Conn) fill(n int) error {
	for len(c.raw) < n {
		if cap(c.raw)-len(c.raw) < 1024 || cap(c.raw) < n {
			// Move the unread bytes to the front of the buffer, which
			// grows only when a record does not fit: earlier records'
			// bytes have been copied out (to c.hand or c.input).
			if want := max(n, len(c.raw)+1024); cap(c.rawBuf) < want {
				c.rawBuf = make([]byte, 0, max(want, 2*cap(c.rawBuf), 4096))
			}
			c.raw = c.rawBuf[:copy(c.rawBuf[:len(c.raw)], c.raw)]
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
		if typ == recordChangeCipherSpec && c.tls12 {
			// TLS 1.2: the peer's ChangeCipherSpec installs the pending
			// read keys (RFC 5246 §7.1), on a handshake message boundary.
			if c.pendingRead == nil || n != 1 || body[0] != 1 {
				return localAlert(AlertUnexpectedMessage, "unexpected ChangeCipherSpec")
			}
			if len(c.hand) != 0 {
				return localAlert(AlertUnexpectedMessage, "ChangeCipherSpec inside a handshake message")
			}
			if err := c.in.setKeys12(*c.pendingRead); err != nil {
				return wrapAlert(AlertInternalError, err)
			}
			c.pendingRead = nil
			continue
		}
		if typ == recordChangeCipherSpec {
			if !c.ccsOK || n != 1 || body[0] != 1 {
				return localAlert(AlertUnexpectedMessage, "unexpected ChangeCipherSpec")
			}
			if len(c.hand) != 0 {
				return localAlert(AlertUnexpectedMessage, "ChangeCipherSpec inside a fragmented handshake message") // §5.1
			}
			if err := c.uselessRecord(); err != nil {
				return err
			}
			continue
		}
		if c.in.aead != nil && c.in.v12 {
			plain, err := c.in.open12(typ, body)
			if err != nil {
				return localAlert(AlertBadRecordMAC, "record authentication failed")
			}
			if len(plain) > maxPlaintext {
				return localAlert(AlertRecordOverflow, "plaintext over 2^14 bytes")
			}
			body = plain
		} else if c.in.aead != nil {
			// Once keys are installed every record is protected (§5.2),
			// alerts too: a plaintext alert is unexpected_message, as
			// crypto/tls answers, whatever it says.
			if typ == recordAlert && n == 2 {
				return localAlert(AlertUnexpectedMessage, fmt.Sprintf("plaintext alert %v after the handshake keys were installed", Alert(body[1])))
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
			// §5.4: the whole TLSInnerPlaintext (content, type and
			// padding) is at most 2^14+1 bytes; padding does not stretch
			// the limit.
			if len(plain) > maxPlaintext+1 {
				return localAlert(AlertRecordOverflow, fmt.Sprintf("TLSInnerPlaintext of %d bytes", len(plain)))
			}
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
		} else if typ == recordApplicationData {
			if c.earlySkip >= n && !c.isClient {
				c.earlySkip -= n // 0-RTT data sent before our HelloRetryRequest
				continue
			}
			return localAlert(AlertUnexpectedMessage, "application data before the handshake keys")
		}

		// §5.1: in TLS 1.3 handshake messages must not be interleaved with
		// other record types: nothing but handshake records while part of
		// a message is buffered.
		if !c.tls12 && typ != recordHandshake && len(c.hand) != 0 {
			return localAlert(AlertUnexpectedMessage, fmt.Sprintf("record of type %d inside a fragmented handshake message", typ))
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
			if len(c.input) != 0 {
				// TLS 1.2 allows data between the fragments of a
				// (refused) renegotiation hello (RFC 5246 §6.2.1), but
				// only one record of it is buffered; TLS 1.3 never gets
				// here (checked above).
				return localAlert(AlertUnexpectedMessage, "application data inside a handshake message")
			}
			c.inputBuf = append(c.inputBuf[:0], body...)
			c.input = c.inputBuf
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
	if c.tls12 && body[0] == 1 {
		// TLS 1.2 warning alerts (no_renegotiation, say) are not fatal
		// (RFC 5246 §7.2).
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

// readMessage reads the next handshake message, which must be of type
// want, and decodes it with parse.
func readMessage[M any](c *Conn, want uint8, parse func([]byte) (M, error)) (M, error) {
	msg, err := c.readHandshake(want)
	if err != nil {
		var none M
		return none, err
	}
	return parse(msg)
}

// readHandshakeAny returns the next handshake message, whatever its type.
func (c *Conn) readHandshakeAny() ([]byte, error) {
	for {
		msg, ok, err := c.nextHandshakeMessage()
		if err != nil || ok {
			return msg, err
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
		} else if c.out.v12 {
			c.sealRecord12(typ, frag)
		} else {
			c.sealRecord13(typ, frag)
		}
		if typ == recordApplicationData && len(data) == 0 {
			break
		}
	}
	return nil
}

// sealRecord13 appends a protected TLS 1.3 record (§5.2): the
// TLSInnerPlaintext is sealed in place in the send buffer.
func (c *Conn) sealRecord13(typ uint8, frag []byte) {
	hc := &c.out
	n := len(frag) + 1 + hc.aead.Overhead()
	start := len(c.sendBuf)
	c.sendBuf = slices.Grow(c.sendBuf, recordHeaderLen+n)
	c.sendBuf = append(c.sendBuf, recordApplicationData, 3, 3, byte(n>>8), byte(n))
	c.sendBuf = append(c.sendBuf, frag...)
	c.sendBuf = append(c.sendBuf, typ)
	p := start + recordHeaderLen
	sealed := hc.aead.Seal(c.sendBuf[p:p], hc.nonce(), c.sendBuf[p:], c.sendBuf[start:p])
	c.sendBuf = c.sendBuf[:p+len(sealed)]
	hc.seq++
}

// sealRecord12 appends a protected TLS 1.2 record (RFC 5246 §6.2.3.3):
// for GCM the explicit nonce (the sequence number, RFC 5288 §3) comes
// first; ChaCha20-Poly1305 has none (RFC 7905 §2).
func (c *Conn) sealRecord12(typ uint8, frag []byte) {
	hc := &c.out
	explicit := 0
	if hc.explicit {
		explicit = 8
	}
	n := explicit + len(frag) + hc.aead.Overhead()
	start := len(c.sendBuf)
	c.sendBuf = slices.Grow(c.sendBuf, recordHeaderLen+n)
	c.sendBuf = append(c.sendBuf, typ, 3, 3, byte(n>>8), byte(n))
	nonce := hc.nonce()
	if hc.explicit {
		c.sendBuf = append(c.sendBuf, nonce[4:]...)
	}
	c.sendBuf = append(c.sendBuf, frag...)
	p := start + recordHeaderLen + explicit
	sealed := hc.aead.Seal(c.sendBuf[p:p], nonce, c.sendBuf[p:], hc.additionalData12(typ, len(frag)))
	c.sendBuf = c.sendBuf[:p+len(sealed)]
	hc.seq++
}

// open12 authenticates and decrypts a TLS 1.2 record body in place.
func (hc *halfConn) open12(typ uint8, body []byte) ([]byte, error) {
	overhead := hc.aead.Overhead()
	var nonce []byte
	if hc.explicit {
		if len(body) < 8+overhead {
			return nil, errShortRecord
		}
		nonce = hc.nonceBuf[:]
		copy(nonce, hc.iv)
		copy(nonce[4:], body[:8])
		body = body[8:]
	} else {
		if len(body) < overhead {
			return nil, errShortRecord
		}
		nonce = hc.nonce()
	}
	plain, err := hc.aead.Open(body[:0], nonce, body, hc.additionalData12(typ, len(body)-overhead))
	if err != nil {
		return nil, err
	}
	hc.seq++
	return plain, nil
}

var errShortRecord = errors.New("psk: record shorter than its AEAD overhead")

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
