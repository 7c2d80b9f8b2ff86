package tlsconf

import "context"

// PSKStore keeps TLS-PSK identities (identity -> key) that a fleet shares,
// as an alternative to a PSK key file. The identity and key rules are
// those of the tlsconf/psk key file (psk.CheckIdentity, psk.CheckKey, and
// an identity that fits an "identity:hexkey" line). Its methods are safe
// for concurrent use; no method returns or logs a key except GetKey, and
// errors never contain one. The etcd backend is tlsconf/etcdstore.Store.
type PSKStore interface {
	// GetKey returns a copy of the key for identity, or nil with a nil
	// error when the identity is unknown: it has the shape of
	// psk.ServerConfig.GetKey. It answers from memory and does not block.
	GetKey(ctx context.Context, identity []byte) ([]byte, error)
	// PSKIdentities lists the identities, sorted.
	PSKIdentities(ctx context.Context) ([]string, error)
	// PutPSK stores (or replaces) the key for identity.
	PutPSK(ctx context.Context, identity string, key []byte) error
	// DeletePSK removes identity; it reports whether it was there.
	DeletePSK(ctx context.Context, identity string) (bool, error)
	// Watch returns a channel that receives a value (coalesced) after
	// the store changed, by this process or another, and is closed when
	// ctx ends.
	Watch(ctx context.Context) <-chan struct{}
}
