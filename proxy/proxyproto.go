package proxy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// PROXY protocol (HAProxy's proxy-protocol.txt): a load balancer in front
// of wssproxy prefixes each connection with the real client's address.
// Version 1 is a text line, version 2 a binary block.

var proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

const (
	proxyV1Max = 107  // longest v1 line, CRLF included
	proxyV2Max = 2048 // longest v2 address block accepted (TLVs included)
)

// readProxyHeader reads the PROXY header a trusted load balancer sends
// first, and returns the connection to read on (nothing read past the
// header is lost) and the client address it names ("" for LOCAL/UNKNOWN,
// where the connection's own address stands).
func readProxyHeader(nc net.Conn) (net.Conn, string, error) {
	br := bufio.NewReaderSize(nc, 512)
	pc := &prefixConn{Conn: nc, r: br}
	start, err := br.Peek(12)
	if err != nil {
		return nil, "", fmt.Errorf("reading PROXY header: %w", err)
	}
	switch {
	case bytes.Equal(start, proxyV2Sig):
		src, err := readProxyV2(br)
		return pc, src, err
	case bytes.HasPrefix(start, []byte("PROXY ")):
		src, err := readProxyV1(br)
		return pc, src, err
	}
	return nil, "", errors.New("connection from a trusted proxy does not start with a PROXY protocol header")
}

func readProxyV1(br *bufio.Reader) (string, error) {
	// The reader's 512-byte buffer bounds the search for the line end.
	line, err := br.ReadSlice('\n')
	if err != nil {
		return "", fmt.Errorf("PROXY v1: no line end: %w", err)
	}
	if len(line) > proxyV1Max || !bytes.HasSuffix(line, []byte("\r\n")) {
		return "", fmt.Errorf("PROXY v1: line must end in CRLF within %d bytes", proxyV1Max)
	}
	return parseProxyV1(string(line[:len(line)-2]))
}

func parseProxyV1(line string) (string, error) {
	f := strings.Split(line, " ")
	if len(f) >= 2 && f[0] == "PROXY" && f[1] == "UNKNOWN" {
		return "", nil
	}
	if len(f) != 6 || f[0] != "PROXY" || (f[1] != "TCP4" && f[1] != "TCP6") {
		return "", fmt.Errorf("PROXY v1: malformed line %q", line)
	}
	ip, err := netip.ParseAddr(f[2])
	if err != nil || ip.Is4() != (f[1] == "TCP4") {
		return "", fmt.Errorf("PROXY v1: bad source address %q", f[2])
	}
	port, err := strconv.ParseUint(f[4], 10, 16)
	if err != nil || (len(f[4]) > 1 && f[4][0] == '0') {
		return "", fmt.Errorf("PROXY v1: bad source port %q", f[4])
	}
	return netip.AddrPortFrom(ip, uint16(port)).String(), nil
}

func readProxyV2(br *bufio.Reader) (string, error) {
	var hdr [16]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return "", fmt.Errorf("PROXY v2: %w", err)
	}
	if hdr[12]>>4 != 2 {
		return "", fmt.Errorf("PROXY v2: unsupported version %d", hdr[12]>>4)
	}
	cmd, fam := hdr[12]&0xf, hdr[13]
	n := int(binary.BigEndian.Uint16(hdr[14:]))
	if n > proxyV2Max {
		return "", fmt.Errorf("PROXY v2: address block of %d bytes exceeds %d", n, proxyV2Max)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(br, body); err != nil {
		return "", fmt.Errorf("PROXY v2: %w", err)
	}
	switch cmd {
	case 0: // LOCAL: the balancer's own connection (health check)
		return "", nil
	case 1: // PROXY
	default:
		return "", fmt.Errorf("PROXY v2: unknown command %d", cmd)
	}
	switch fam {
	case 0x11: // TCP over IPv4
		if n < 12 {
			return "", errors.New("PROXY v2: short IPv4 address block")
		}
		ip := netip.AddrFrom4([4]byte(body[0:4]))
		return netip.AddrPortFrom(ip, binary.BigEndian.Uint16(body[8:])).String(), nil
	case 0x21: // TCP over IPv6
		if n < 36 {
			return "", errors.New("PROXY v2: short IPv6 address block")
		}
		ip := netip.AddrFrom16([16]byte(body[0:16])).Unmap()
		return netip.AddrPortFrom(ip, binary.BigEndian.Uint16(body[32:])).String(), nil
	case 0x00: // UNSPEC
		return "", nil
	}
	return "", fmt.Errorf("PROXY v2: unsupported address family 0x%02x", fam)
}

// prefixConn reads first what a bufio.Reader buffered past a header.
type prefixConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *prefixConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// NetConn returns the connection beneath, so that an idle leg waits on
// its socket (ws): reads through this layer return what it buffered
// before they read beneath, whatever the deadline.
func (c *prefixConn) NetConn() net.Conn { return c.Conn }
