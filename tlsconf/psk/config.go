package psk

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"time"

	"github.com/rs/zerolog"
)

// DefaultHandshakeTimeout bounds a handshake when the configuration sets
// no HandshakeTimeout.
const DefaultHandshakeTimeout = 30 * time.Second

// DefaultKeyLookupTimeout bounds one server key lookup (ServerConfig.GetKey)
// when KeyLookupTimeout is 0.
const DefaultKeyLookupTimeout = 5 * time.Second

// Mode is a PSK key exchange mode (RFC 8446 §4.2.9).
type Mode uint8

const (
	// ModeDHE is psk_dhe_ke: the PSK authenticates an (EC)DHE exchange,
	// giving forward secrecy. The default on both sides.
	ModeDHE Mode = Mode(modePSKDHEKE)
	// ModePSKOnly is psk_ke: keys come from the PSK alone, without forward
	// secrecy. Used only when both sides opt in.
	ModePSKOnly Mode = Mode(modePSKKE)
)

// ClientConfig configures a PSK client. A nil or zero field takes its
// default. Client copies it on entry; it is never modified.
type ClientConfig struct {
	// Identity and Key are a static PSK, used when GetKey is nil. The key
	// must be MinKeyLength..MaxKeyLength bytes, the identity
	// 1..MaxIdentityLength bytes without NUL.
	Identity []byte
	Key      []byte
	// GetKey, if set, is called once per handshake, before the
	// ClientHello, with the identity hint (always empty in TLS 1.3, which
	// has no hint) and returns the identity and key to offer: Qt's
	// preSharedKeyAuthenticationRequired on the client. An empty key or an
	// error aborts the handshake; over-long values are rejected, never
	// truncated. ctx carries the handshake deadline.
	GetKey func(ctx context.Context, hint []byte) (identity, key []byte, err error)
	// Hash is the PSK's hash (RFC 8446 §4.2.11); zero is SHA256, which
	// OpenSSL, GnuTLS, stunnel and Qt use.
	Hash Hash
	// CipherSuites lists the suites to offer, in preference order; only
	// those matching Hash are sent. nil offers all three.
	CipherSuites []uint16
	// Groups are the supported (EC)DHE groups in preference order
	// (default X25519, P-256). KeyShares are those that get a key share in
	// the first ClientHello (default: all of Groups); a server choosing
	// another group of Groups answers with a HelloRetryRequest.
	Groups    []CurveID
	KeyShares []CurveID
	// Modes are the key exchange modes offered (default ModeDHE). Add
	// ModePSKOnly only for peers without (EC)DHE: it gives up forward
	// secrecy.
	Modes []Mode
	// ServerName is the SNI host name sent; "" sends none.
	ServerName string
	// NextProtos are the ALPN protocols offered, e.g. "http/1.1".
	NextProtos []string
	// HandshakeTimeout bounds the handshake (default DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration
	// Rand is the source of randomness (default crypto/rand). A test seam.
	Rand io.Reader

	// MinVersion and MaxVersion bound the versions offered; zero means
	// VersionTLS13. MinVersion VersionTLS12 also offers the TLS 1.2 PSK
	// suites (RFC 4279/5487/5489/7905) in the same ClientHello, for
	// servers without TLS 1.3 PSK; MaxVersion VersionTLS12 as well offers
	// TLS 1.2 only. In TLS 1.2, GetKey is called after the server's
	// ServerHelloDone with its identity hint (a TLS 1.3 ClientHello has
	// already called it with an empty hint: it is called again only when
	// the server sends a hint).
	MinVersion, MaxVersion uint16
	// TLS12CipherSuites are the TLS 1.2 suites offered, in preference
	// order (nil: TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256,
	// TLS_PSK_WITH_AES_128_GCM_SHA256, TLS_PSK_WITH_AES_256_GCM_SHA384,
	// TLS_PSK_WITH_CHACHA20_POLY1305_SHA256).
	TLS12CipherSuites []uint16
}

// ServerConfig configures a PSK server. A nil or zero field takes its
// default. Server, NewListener and Mux copy it on entry; it is never
// modified.
type ServerConfig struct {
	// GetKey returns the key for an identity a client offers: Qt's
	// preSharedKeyAuthenticationRequired on the server. It is called at
	// most once per offered identity (at most 8), in the client's order,
	// until one has a key; ctx has a deadline of KeyLookupTimeout. An empty
	// key with a nil error means "unknown identity"; an error aborts the
	// handshake with internal_error. A returned key outside
	// MinKeyLength..MaxKeyLength is refused. Identities longer than
	// MaxIdentityLength are treated as unknown without a call. Required.
	GetKey func(ctx context.Context, identity []byte) (key []byte, err error)
	// Hash is the hash of every key GetKey returns (default SHA256).
	Hash Hash
	// CipherSuites are the suites accepted, in the server's preference
	// order; nil means AES-128-GCM, ChaCha20-Poly1305, AES-256-GCM, of which
	// those matching Hash are used.
	CipherSuites []uint16
	// Groups are the (EC)DHE groups accepted, in preference order (default
	// X25519, P-256). A client without a key share for one of them but
	// supporting one gets a HelloRetryRequest.
	Groups []CurveID
	// AllowPSKOnly accepts psk_ke (no forward secrecy) from clients that
	// offer only that mode; psk_dhe_ke is preferred whenever offered.
	AllowPSKOnly bool
	// NextProtos are the ALPN protocols accepted, in preference order. A
	// client offering ALPN without overlap gets no_application_protocol.
	NextProtos []string
	// HandshakeTimeout bounds the handshake (default DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration
	// KeyLookupTimeout bounds each GetKey call (default DefaultKeyLookupTimeout).
	KeyLookupTimeout time.Duration
	// Rand is the source of randomness (default crypto/rand). A test seam.
	Rand io.Reader
	// Logger receives one Debug line per handshake outcome with the
	// identity (never a key). The zero value logs nothing.
	Logger zerolog.Logger

	// MinVersion and MaxVersion bound the versions accepted; zero means
	// VersionTLS13. MinVersion VersionTLS12 accepts TLS 1.2 ClientHellos
	// offering the TLS 1.2 PSK suites, for embedded devices (mbedTLS,
	// wolfSSL). A client that offers TLS 1.3 gets TLS 1.3 unless
	// MaxVersion is VersionTLS12: without a pre_shared_key it is refused
	// (handshake_failure), because a TLS 1.2 answer would carry the RFC
	// 8446 §4.1.3 downgrade sentinel that TLS 1.3 clients must reject.
	// Clients that offer TLS 1.3 but do PSK only in TLS 1.2 (Qt without
	// QT_USE_TLS_1_3_PSK) need MaxVersion VersionTLS12. In TLS 1.2, GetKey is called
	// once with the identity from ClientKeyExchange, and the Hash field
	// does not apply (each suite has its own PRF hash).
	MinVersion, MaxVersion uint16
	// TLS12CipherSuites are the TLS 1.2 suites accepted, in preference
	// order (nil: TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256,
	// TLS_PSK_WITH_AES_128_GCM_SHA256, TLS_PSK_WITH_AES_256_GCM_SHA384,
	// TLS_PSK_WITH_CHACHA20_POLY1305_SHA256).
	TLS12CipherSuites []uint16
	// IdentityHint is sent to TLS 1.2 clients in ServerKeyExchange (RFC
	// 4279 §2), at most MaxIdentityLength bytes; it reaches the client's
	// hook (Qt's identityHint). With a plain PSK suite and no hint, no
	// ServerKeyExchange is sent. TLS 1.3 has no hint. It travels in clear.
	IdentityHint []byte
	// TLS12PreferPSK makes a Listener (NewListener, Mux) hand every
	// ClientHello without a TLS 1.3 pre_shared_key that offers an
	// accepted TLS 1.2 PSK suite to this package, even when it also
	// offers certificate suites (OpenSSL's default cipher list with a PSK
	// callback, Qt's defaults). Without it such a client goes to
	// crypto/tls; clients offering only PSK suites always come here.
	// Either way a ClientHello that also offers TLS 1.3 goes to
	// crypto/tls unless MaxVersion is VersionTLS12 (see MinVersion).
	TLS12PreferPSK bool
}

// clone returns a shallow copy of c (slices shared, as tls.Config.Clone
// does), or the zero ClientConfig when c is nil.
func (c *ClientConfig) clone() *ClientConfig {
	if c == nil {
		return &ClientConfig{}
	}
	cc := *c
	return &cc
}

// clone returns a shallow copy of c, or the zero ServerConfig when c is
// nil.
func (c *ServerConfig) clone() *ServerConfig {
	if c == nil {
		return &ServerConfig{}
	}
	cc := *c
	return &cc
}

// versionRange resolves MinVersion/MaxVersion (zero: TLS 1.3).
func versionRange(lo, hi uint16) (uint16, uint16, error) {
	if lo == 0 {
		lo = VersionTLS13
	}
	if hi == 0 {
		hi = VersionTLS13
	}
	for _, v := range []uint16{lo, hi} {
		if v != VersionTLS12 && v != VersionTLS13 {
			return 0, 0, localAlert(AlertInternalError, fmt.Sprintf("psk: unsupported version 0x%04x (VersionTLS12 or VersionTLS13)", v))
		}
	}
	if lo > hi {
		return 0, 0, localAlert(AlertInternalError, "psk: MinVersion above MaxVersion")
	}
	return lo, hi, nil
}

func randReader(r io.Reader) io.Reader {
	if r != nil {
		return r
	}
	return rand.Reader
}

// ErrKeyRefused reports an unusable key or identity from configuration or
// a hook: too short, too long, NUL in the identity, or empty.
var ErrKeyRefused = errors.New("psk: key or identity refused")

// CheckIdentity reports whether id is a usable PSK identity: 1 to
// MaxIdentityLength bytes, no NUL (OpenSSL and Qt peers treat identities
// as C strings). Identities travel in clear: they must not carry secrets.
func CheckIdentity(id []byte) error {
	switch {
	case len(id) == 0:
		return fmt.Errorf("%w: empty identity", ErrKeyRefused)
	case len(id) > MaxIdentityLength:
		return fmt.Errorf("%w: identity of %d bytes exceeds %d", ErrKeyRefused, len(id), MaxIdentityLength)
	case slices.Contains(id, 0):
		return fmt.Errorf("%w: identity contains NUL", ErrKeyRefused)
	}
	return nil
}

// CheckKey reports whether key is a usable PSK: MinKeyLength to
// MaxKeyLength bytes. The error never contains the key.
func CheckKey(key []byte) error {
	switch {
	case len(key) < MinKeyLength:
		return fmt.Errorf("%w: key of %d bytes is shorter than %d", ErrKeyRefused, len(key), MinKeyLength)
	case len(key) > MaxKeyLength:
		return fmt.Errorf("%w: key of %d bytes exceeds %d", ErrKeyRefused, len(key), MaxKeyLength)
	}
	return nil
}

func groupsOr(g []CurveID) []CurveID {
	if len(g) == 0 {
		return defaultGroups
	}
	return g
}

func supportedGroup(g CurveID) bool { return g == X25519 || g == P256 || g == P384 }

// TLSClient runs the PSK client handshake over nc and returns the secured
// connection: it has the shape of ws.DialOptions.TLSClient, so
// ws.DialOptions{TLSClient: cfg.TLSClient} dials wss:// with this PSK.
// serverName is sent as SNI when ServerName is empty (IP literals are
// never sent); NextProtos defaults to "http/1.1". Cancelling ctx during
// the handshake closes nc.
func (c *ClientConfig) TLSClient(ctx context.Context, nc net.Conn, serverName string) (net.Conn, error) {
	cfg := c.clone()
	if cfg.ServerName == "" {
		cfg.ServerName = serverName
	}
	if len(cfg.NextProtos) == 0 {
		cfg.NextProtos = []string{"http/1.1"}
	}
	pc := newClient(nc, cfg)
	if err := pc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	return pc, nil
}
