package netproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
)

// SOCKS5 protocol constants (RFC 1928, RFC 1929).
const (
	socks5Version     = 0x05
	socksAuthNone     = 0x00
	socksAuthPassword = 0x02
	socksNoAcceptable = 0xff
	socksCmdConnect   = 0x01
	socksATYPIPv4     = 0x01
	socksATYPDomain   = 0x03
	socksATYPIPv6     = 0x04
	socksPassVersion  = 0x01 // RFC 1929 subnegotiation version
)

// connectSOCKS5 runs the SOCKS5 handshake on conn: method selection
// (RFC 1928 §3), username/password authentication when the proxy picks it
// (RFC 1929 §2), then CONNECT (RFC 1928 §4) and its reply (§6).
func (d *Dialer) connectSOCKS5(ctx context.Context, conn net.Conn, network, host string, port uint16, creds credentials) (net.Conn, error) {
	target := net.JoinHostPort(host, strconv.Itoa(int(port)))
	// For socks5:// resolve the name here; socks5h:// sends it as is.
	addr, isIP := netip.ParseAddr(host)
	if isIP != nil && d.proxy.Scheme == "socks5" {
		ip, err := d.resolve(ctx, network, host)
		if err != nil {
			return nil, err
		}
		addr, isIP = ip, nil
	}
	if isIP == nil {
		addr = addr.Unmap()
	}

	// §3: version identifier/method selection.
	methods := []byte{socksAuthNone}
	if creds.ok || d.o.Auth != nil {
		methods = append(methods, socksAuthPassword)
	}
	greeting := append([]byte{socks5Version, byte(len(methods))}, methods...)
	var sel [2]byte
	if err := d.socksExchange(conn, greeting, "greeting", sel[:], "method selection"); err != nil {
		return nil, err
	}
	if sel[0] != socks5Version {
		return nil, fmt.Errorf("%w: %s is not a SOCKS5 proxy (version byte %#x)", ErrProtocol, d.name, sel[0])
	}
	switch sel[1] {
	case socksAuthNone:
	case socksAuthPassword:
		if !creds.ok {
			return nil, &authNeeded{
				challenge: Challenge{Scheme: "username/password"},
				err:       fmt.Errorf("%w: SOCKS5 proxy %s wants a username and password", ErrAuthRequired, d.name),
			}
		}
		if err := d.socksPassword(conn, creds); err != nil {
			return nil, err
		}
	case socksNoAcceptable:
		what := "no authentication"
		if len(methods) > 1 {
			what = "no authentication or username/password"
		}
		return nil, fmt.Errorf("%w: SOCKS5 proxy %s accepts none of the offered methods (%s)", ErrAuthRequired, d.name, what)
	default:
		return nil, fmt.Errorf("%w: SOCKS5 proxy %s chose method %#x, which was not offered", ErrProtocol, d.name, sel[1])
	}

	// §4: the CONNECT request.
	req := []byte{socks5Version, socksCmdConnect, 0x00}
	switch {
	case isIP == nil && addr.Is4():
		req = append(req, socksATYPIPv4)
		req = append(req, addr.AsSlice()...)
	case isIP == nil:
		req = append(req, socksATYPIPv6)
		req = append(req, addr.AsSlice()...)
	default:
		req = append(req, socksATYPDomain, byte(len(host)))
		req = append(req, host...)
	}
	req = append(req, byte(port>>8), byte(port))
	// §6: the reply: VER REP RSV ATYP BND.ADDR BND.PORT.
	var rep [4]byte
	if err := d.socksExchange(conn, req, "CONNECT", rep[:], "CONNECT reply"); err != nil {
		return nil, err
	}
	if rep[0] != socks5Version {
		return nil, fmt.Errorf("%w: SOCKS5 proxy %s replied with version byte %#x", ErrProtocol, d.name, rep[0])
	}
	if rep[1] != 0 {
		return nil, &SOCKSError{Proxy: d.name, Target: target, Reply: rep[1]}
	}
	var skip int
	switch rep[3] {
	case socksATYPIPv4:
		skip = 4
	case socksATYPIPv6:
		skip = 16
	case socksATYPDomain:
		var n [1]byte
		if _, err := io.ReadFull(conn, n[:]); err != nil {
			return nil, d.socksIOError("reading CONNECT reply", err)
		}
		skip = int(n[0])
	default:
		return nil, fmt.Errorf("%w: SOCKS5 proxy %s replied with address type %#x", ErrProtocol, d.name, rep[3])
	}
	if _, err := io.ReadFull(conn, make([]byte, skip+2)); err != nil {
		return nil, d.socksIOError("reading CONNECT reply", err)
	}
	return conn, nil
}

// socksPassword runs the RFC 1929 username/password subnegotiation.
func (d *Dialer) socksPassword(conn net.Conn, creds credentials) error {
	if len(creds.user) > 255 || len(creds.pass) > 255 {
		return fmt.Errorf("netproxy: SOCKS5 proxy %s: username and password are limited to 255 bytes each", d.name)
	}
	msg := []byte{socksPassVersion, byte(len(creds.user))}
	msg = append(msg, creds.user...)
	msg = append(msg, byte(len(creds.pass)))
	msg = append(msg, creds.pass...)
	var st [2]byte
	if err := d.socksExchange(conn, msg, "username/password", st[:], "authentication status"); err != nil {
		return err
	}
	if st[1] != 0 {
		// §2: the server closes the connection; new credentials need a
		// new connection.
		return &authNeeded{
			challenge: Challenge{Scheme: "username/password"},
			err:       fmt.Errorf("%w: SOCKS5 proxy %s refused the username and password (status %#x)", ErrAuthFailed, d.name, st[1]),
		}
	}
	return nil
}

// resolve looks host up for a socks5:// proxy, honouring tcp4/tcp6.
func (d *Dialer) resolve(ctx context.Context, network, host string) (netip.Addr, error) {
	ipNet := "ip"
	switch network {
	case "tcp4":
		ipNet = "ip4"
	case "tcp6":
		ipNet = "ip6"
	}
	ips, err := d.o.Resolver.LookupNetIP(ctx, ipNet, host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("netproxy: resolving %s for SOCKS5 proxy %s (use socks5h:// to let the proxy resolve): %w", host, d.name, err)
	}
	if len(ips) == 0 {
		return netip.Addr{}, fmt.Errorf("netproxy: resolving %s: no addresses", host)
	}
	return ips[0], nil
}

// socksExchange sends the message msg (named sent in errors) and reads
// the fixed-size start of its answer into reply (named answer).
func (d *Dialer) socksExchange(conn net.Conn, msg []byte, sent string, reply []byte, answer string) error {
	if _, err := conn.Write(msg); err != nil {
		return d.socksIOError("sending "+sent, err)
	}
	if _, err := io.ReadFull(conn, reply); err != nil {
		return d.socksIOError("reading "+answer, err)
	}
	return nil
}

// socksIOError wraps an I/O error of the SOCKS5 handshake; an early EOF
// becomes io.ErrUnexpectedEOF.
func (d *Dialer) socksIOError(step string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("netproxy: SOCKS5 proxy %s closed the connection while %s: %w", d.name, step, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("netproxy: SOCKS5 proxy %s: %s: %w", d.name, step, err)
}
