// Package psk implements TLS 1.3 with an external pre-shared key (RFC 8446
// §2.2, §4.2.9–§4.2.11), and optionally the TLS 1.2 PSK suites (RFC 4279,
// 5487, 5489, 7905), client and server, for devices without
// certificates: Go's crypto/tls has no external PSK (golang/go#6379; its
// session API uses the "res binder" label and cannot interoperate with
// OpenSSL or GnuTLS external PSKs, which use "ext binder").
//
// It is a small, strict stack built on crypto/ecdh, crypto/hkdf,
// crypto/hmac, crypto/aes, crypto/cipher, crypto/sha256/sha512 and
// golang.org/x/crypto (cryptobyte, chacha20poly1305). Files follow
// crypto/tls: handshake_messages.go, handshake_client.go,
// handshake_server.go, key_schedule.go, record.go, conn.go, with RFC
// 8446 section numbers beside the code.
//
// # What is supported
//
//   - TLS 1.3 by default, PSK only: no certificates, no session tickets,
//     no 0-RTT (offered early data is refused and skipped, §4.2.10).
//   - TLS 1.2 when MinVersion is VersionTLS12 (both configs), AEAD only:
//     TLS_PSK_WITH_AES_128_GCM_SHA256, TLS_PSK_WITH_AES_256_GCM_SHA384,
//     TLS_PSK_WITH_CHACHA20_POLY1305_SHA256 and
//     TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256; the identity hint in
//     ServerKeyExchange (ServerConfig.IdentityHint, passed to the client's
//     GetKey), the extended master secret (RFC 7627) whenever the client
//     offers it, renegotiation refused (RFC 5746 empty renegotiation_info,
//     no_renegotiation warnings), the RFC 8446 §4.1.3 downgrade sentinel
//     on both sides. No CBC, CCM, DHE-PSK or RSA-PSK, no session resumption.
//     A client that offers TLS 1.3 gets TLS 1.3 (refused without a
//     pre_shared_key) unless the server's MaxVersion is VersionTLS12.
//   - Key exchange psk_dhe_ke (default, X25519 and P-256, also P-384) and
//     psk_ke (no forward secrecy) only when both sides opt in
//     (ClientConfig.Modes, ServerConfig.AllowPSKOnly). The server prefers
//     psk_dhe_ke, as OpenSSL does.
//   - TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256 (SHA-256 PSKs,
//     the default and what OpenSSL, GnuTLS, stunnel and Qt use) and
//     TLS_AES_256_GCM_SHA384 (SHA-384 PSKs, Hash field).
//   - HelloRetryRequest with the binder recomputed, KeyUpdate both ways
//     (Conn.KeyUpdate, and automatic answers), close_notify, middlebox
//     compatibility ChangeCipherSpec, NewSessionTicket from servers ignored.
//   - ALPN and SNI.
//
// # Alerts
//
// A server that knows none of the offered identities answers
// handshake_failure, and a binder that does not verify (wrong key)
// illegal_parameter: what OpenSSL 3 sends. In TLS 1.2 an unknown
// identity is unknown_psk_identity and a wrong key bad_record_mac (the
// client's Finished does not decrypt), as OpenSSL's PSK callback servers
// answer. Failures return *AlertError, which says which alert was sent
// or received.
//
// # Keys and identities
//
// Keys are MinKeyLength (16) to MaxKeyLength (512) random bytes, never
// passwords: a recorded handshake allows an offline dictionary attack on
// the binder. Identities are 1 to MaxIdentityLength (255) bytes without
// NUL; they travel in clear, may be logged, and must not carry secrets.
// Over-long values are rejected, not truncated. Keys are compared only
// through HMACs with hmac.Equal and never logged. Use a different key
// per direction (RFC 9257): a proxy's device keys and its upstream keys
// must differ.
//
// The hooks mirror Qt's preSharedKeyAuthenticationRequired:
// ServerConfig.GetKey maps an identity to a key (an empty key refuses),
// ClientConfig.GetKey returns the identity and key (the hint is always
// empty in TLS 1.3). KeyFile (a stunnel-style "identity:hexkey" file,
// reloaded on change) and ClientKeyFile are built-in sources; both refuse
// files that the group or others can read.
//
// # One port for PSK and certificates
//
// NewListener peeks at each ClientHello and hands PSK clients to this
// package and everyone else to crypto/tls, so one wss port serves devices
// with a PSK and browsers with certificates. TLS 1.2 PSK ClientHellos are
// recognised by their cipher suites (see Listener).
//
// # Limits
//
// No TLS 1.2 CBC/CCM suites, no exporters, no PSK importers (RFC 9258),
// no record padding on send.
package psk
