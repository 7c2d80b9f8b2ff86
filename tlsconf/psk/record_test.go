package psk

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/wssproxy/wssproxy/internal/testpeer"
)

// Record-layer rules checked on the wire against a peer that breaks them
// (RFC 8446 §5): the records are sealed with the real keys of a completed
// handshake, so only the rule under test is broken.

// sealInner writes one protected TLS 1.3 record whose TLSInnerPlaintext
// (content, content type, zero padding) is inner, exactly as given, with
// c's write keys.
func sealInner(t *testing.T, c *Conn, inner []byte) {
	t.Helper()
	c.out.Lock()
	defer c.out.Unlock()
	n := len(inner) + c.out.aead.Overhead()
	hdr := []byte{recordApplicationData, 3, 3, byte(n >> 8), byte(n)}
	rec := append(make([]byte, 0, recordHeaderLen+n), hdr...)
	rec = c.out.aead.Seal(rec, c.out.nonce(), inner, hdr)
	c.out.seq++
	if _, err := c.conn.Write(rec); err != nil {
		t.Fatal(err)
	}
}

// sealed is content followed by its content type and pad zero bytes.
func sealed(typ uint8, content []byte, pad int) []byte {
	inner := append(append([]byte(nil), content...), typ)
	return append(inner, make([]byte, pad)...)
}

// readResult reads once from c with a deadline.
func readResult(c *Conn) ([]byte, error) {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, maxPlaintext+1)
	n, err := c.Read(buf)
	return buf[:n], err
}

// wantLocalAlert fails unless err is an alert this side sent.
func wantLocalAlert(t *testing.T, err error, want Alert) {
	t.Helper()
	if a, remote, ok := alertOf(err); !ok || remote || a != want {
		t.Fatalf("error %v, want %v sent", err, want)
	}
}

// TestInterleavedApplicationData: a KeyUpdate split over two records with
// application data between them is unexpected_message (§5.1: handshake
// messages must not be interleaved with other record types). The check
// used to look at the application-data buffer, which is empty at that
// point, so the data was accepted.
func TestInterleavedApplicationData(t *testing.T) {
	for _, between := range []struct {
		name  string
		inner []byte
	}{
		{"application data", sealed(recordApplicationData, []byte("smuggled"), 0)},
		{"alert", sealed(recordAlert, []byte{1, byte(AlertUserCanceled)}, 0)},
	} {
		t.Run(between.name, func(t *testing.T) {
			c, s := openPair(t)
			ku := marshalKeyUpdate(false)
			sealInner(t, c, sealed(recordHandshake, ku[:2], 0))
			sealInner(t, c, between.inner)
			sealInner(t, c, sealed(recordHandshake, ku[2:], 0))
			data, err := readResult(s)
			if err == nil {
				t.Fatalf("server read %q from a record inside a handshake message", data)
			}
			wantLocalAlert(t, err, AlertUnexpectedMessage)
			if _, err := readResult(c); !isRemoteAlert(err, AlertUnexpectedMessage) {
				t.Fatalf("client got %v, want the unexpected_message alert", err)
			}
		})
	}
}

// TestApplicationDataAfterFragmentedKeyUpdate: the same records in an
// allowed order still work (the fix must not reject fragmentation).
func TestApplicationDataAfterFragmentedKeyUpdate(t *testing.T) {
	c, s := openPair(t)
	ku := marshalKeyUpdate(false)
	sealInner(t, c, sealed(recordHandshake, ku[:2], 0))
	sealInner(t, c, sealed(recordHandshake, ku[2:], 0))
	// The client's write key changes with its own KeyUpdate.
	c.out.Lock()
	next := nextTrafficSecret(c.out.suite.hash, c.out.secret)
	if err := c.out.setTrafficSecret(c.out.suite, next); err != nil {
		c.out.Unlock()
		t.Fatal(err)
	}
	c.out.Unlock()
	sealInner(t, c, sealed(recordApplicationData, []byte("after"), 7))
	data, err := readResult(s)
	if err != nil || string(data) != "after" {
		t.Fatalf("read %q, %v", data, err)
	}
}

// TestInnerPlaintextLimit: the 2^14 limit applies to the whole
// TLSInnerPlaintext, padding included: at most 2^14+1 bytes (§5.4; as
// crypto/tls checks). It used to be checked on the content after the
// padding was stripped.
func TestInnerPlaintextLimit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content int
		pad     int
		ok      bool
	}{
		{"full record, no padding", maxPlaintext, 0, true},
		{"small content, padded to the limit", 10, maxPlaintext - 10, true},
		{"full record plus one byte of padding", maxPlaintext, 1, false},
		{"small content, padded past the limit", 10, maxPlaintext - 9, false},
		{"padding only, past the limit", 0, maxPlaintext + 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, s := openPair(t)
			content := bytes.Repeat([]byte{'x'}, tc.content)
			if tc.content == 0 {
				content = nil
			}
			sealInner(t, c, sealed(recordApplicationData, content, tc.pad))
			data, err := readResult(s)
			if tc.ok {
				if err != nil || !bytes.Equal(data, content) {
					t.Fatalf("read %d bytes, %v", len(data), err)
				}
				return
			}
			if err == nil {
				t.Fatalf("a TLSInnerPlaintext of %d bytes was accepted", tc.content+1+tc.pad)
			}
			wantLocalAlert(t, err, AlertRecordOverflow)
		})
	}
}

func isRemoteAlert(err error, want Alert) bool {
	a, remote, ok := alertOf(err)
	return ok && remote && a == want
}

// readRecordFrom reads one whole TLS record from r.
func readRecordFrom(t *testing.T, r net.Conn) []byte {
	t.Helper()
	_ = r.SetReadDeadline(time.Now().Add(5 * time.Second))
	hdr := make([]byte, recordHeaderLen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		t.Fatalf("reading a record header: %v", err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(r, body); err != nil {
		t.Fatalf("reading a record body: %v", err)
	}
	return append(hdr, body...)
}

// TestUnprotectedRecordsAfterServerHello: once a side has installed the
// handshake keys (after the ServerHello) every record must be protected;
// a plaintext alert is unexpected_message, as crypto/tls answers, not
// taken as the peer's alert. A man in the middle relays the real
// ClientHello and ServerHello, then injects the record. The last case
// splits the real ServerHello around a ChangeCipherSpec (§5.1: no other
// record type inside a fragmented handshake message).
func TestUnprotectedRecordsAfterServerHello(t *testing.T) {
	alert := []byte{recordAlert, 3, 3, 0, 2, 2, byte(AlertHandshakeFailure)}
	for _, tc := range []struct {
		name   string
		server bool // the server gets the injected bytes, else the client
		inject func(sh []byte) []byte
	}{
		{"server, plaintext alert", true, func([]byte) []byte { return alert }},
		{"client, plaintext alert", false, func(sh []byte) []byte { return append(sh, alert...) }},
		{"client, ChangeCipherSpec inside the ServerHello", false, func(sh []byte) []byte {
			body := sh[recordHeaderLen:]
			out := record(recordHandshake, body[:10])
			out = append(out, recordChangeCipherSpec, 3, 3, 0, 1, 1)
			return append(out, record(recordHandshake, body[10:])...)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clientEnd, mitmClient := testpeer.TCPPair(t) // our Client <-> middle
			mitmServer, serverEnd := testpeer.TCPPair(t) // middle <-> our Server
			c, s := Client(clientEnd, testClientConfig(t)), Server(serverEnd, testServerConfig(t))
			cerrc, serrc := make(chan error, 1), make(chan error, 1)
			go func() { cerrc <- c.Handshake() }()
			go func() { serrc <- s.Handshake() }()
			defer func() {
				c.Close()
				s.Close()
			}()

			ch := readRecordFrom(t, mitmClient)
			if _, err := mitmServer.Write(ch); err != nil {
				t.Fatal(err)
			}
			sh := readRecordFrom(t, mitmServer)
			if sh[0] != recordHandshake || sh[recordHeaderLen] != typeServerHello {
				t.Fatalf("first server record % x", sh[:min(len(sh), 8)])
			}
			errc, other, to := cerrc, serrc, mitmClient
			if tc.server {
				// The server installed the client's handshake key when it
				// sent the ServerHello and waits for the client's Finished.
				errc, other, to = serrc, cerrc, mitmServer
			}
			if _, err := to.Write(tc.inject(sh)); err != nil {
				t.Fatal(err)
			}
			// Whatever the victim does next, it gets no more input.
			to.Close()
			var err error
			select {
			case err = <-errc:
			case <-time.After(10 * time.Second):
				t.Fatal("handshake did not end")
			}
			wantLocalAlert(t, err, AlertUnexpectedMessage)
			var ae *AlertError
			if !errors.As(err, &ae) || ae.Err == nil {
				t.Fatalf("error %v does not say what was received", err)
			}
			// Unblock the other side.
			mitmClient.Close()
			mitmServer.Close()
			<-other
		})
	}
}
