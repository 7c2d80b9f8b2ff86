// Package tlsconf builds *tls.Config values with Qt-style TLS verification:
// complete SSL error lists, ignore policies, pinned certificate lists and
// pause-on-SSL-error with resume.
//
// # Error lists
//
// crypto/x509 stops at the first problem of a chain. Verify runs the
// checks separately and returns every problem as an SSLError, each with the
// certificate it concerns and a stable ErrorKind (unknown-authority,
// untrusted-root, self-signed, self-signed-in-chain, expired,
// not-yet-valid, hostname-mismatch, invalid-purpose, signature-failure,
// path-length-exceeded, name-constraints, no-peer-certificate,
// pin-mismatch). An expired self-signed certificate for the wrong host
// yields [self-signed expired hostname-mismatch]; a valid self-signed leaf
// yields [self-signed] alone, as OpenSSL reports.
//
// # Policies
//
// A Policy combines trust anchors, an IgnorePolicy (none, all, or a list
// of ExpectedError "KIND" / "KIND:SHA256"), pins (ParsePin: SPKI
// "sha256//<base64>" and whole-certificate "cert-sha256:<hex>") matched on
// the leaf or the whole chain, pin-only mode, and PauseMode with a
// Registry. A pin mismatch is never ignorable.
//
// # Enforcement
//
// NewClient, ClientConfig and ServerConfig enforce the policy in
// tls.Config.VerifyConnection, which also runs on resumed sessions, with
// InsecureSkipVerify set so that the policy (not crypto/tls) decides. A
// failed handshake returns a *VerificationError listing the problems.
//
// # Session resumption
//
// ClientOptions.SessionCacheSize gives a Client a bounded session cache
// of its own (off by default): a handshake to a server name it reached
// before resumes the session (RFC 8446 §2.2) and skips the certificate
// exchange. The policy still runs on it, in VerifyConnection, against
// the chain the session was first verified with and with the rules in
// force at that moment (a revoked remembered pin, a changed TOFU key or
// a pause accepted once refuse or pause it as they would a full
// handshake). Sessions never pass from one Client to another, not even
// through a shared Base.ClientSessionCache. With a CA file as the only
// anchors, a resumed chain found clean before is not verified again
// until a certificate of the chain or the anchors starts or stops being
// valid.
//
// # Pauses and contexts
//
// In pause mode a handshake with ignorable problems blocks inside
// VerifyConnection until Registry.Resume, Registry.Abort, the pause timeout
// (DefaultPauseTimeout) or the end of the connection's context. On servers
// the context is the handshake's (ClientHelloInfo.Context, through
// GetConfigForClient). crypto/tls gives a client's VerifyConnection no
// context, so Client.Config(ctx) clones the configuration per connection
// with ctx captured; Client.Handshake and Client.DialContext do this for
// you, and cancelling their ctx closes the connection and ends the pause.
// No goroutine is started: the wait runs on the handshake's goroutine.
//
// Handshakes that pause for the same server name, leaf certificate and
// unaccepted errors wait on one Registry entry, and one decision releases
// them all. Pending decisions are bounded in all (RegistryOptions.MaxPending)
// and per policy (Policy.MaxPending), and so are the handshakes waiting on
// one (RegistryOptions.MaxWaiters); beyond, a handshake fails at once
// with ErrTooManyPending rather than waiting, so unauthenticated peers
// cannot fill the registry. A handshake whose context ends leaves its
// decision at once; a decision nobody waits on is dropped.
//
// # Remembered pins and the trust store
//
// A TrustStore keeps trust decisions beyond one process: the pins
// remembered per server name, each with the error kinds it accepts, when
// and why (PinEntry). FileStore, the default backend, is a text file like
// OpenSSH's known_hosts, written atomically under a lock. Given one in
// RegistryOptions.Store, a Registry writes the pins remembered on resume
// there before releasing the handshakes, LoadPins reads them at start,
// WatchPins applies changes made elsewhere, and Revoke forgets one.
//
// # Trust on first use
//
// ClientOptions.TOFU gives a client OpenSSH's known_hosts behaviour on a
// TrustStore: a server whose key was remembered must present it (another
// key fails with a pin-mismatch and a *KeyChangedError, never ignorable),
// and the first contact with a server is put to TOFU.Decide with the
// chain and the complete error list: abort, accept once, or accept and
// remember. The decision is bounded by the handshake's context and a
// timeout. wssproxy client's known pins and its terminal prompt are built
// on it.
package tlsconf
