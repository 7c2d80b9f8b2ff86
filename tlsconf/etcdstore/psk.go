package etcdstore

import (
	"context"
	"encoding/hex"
	"slices"

	"github.com/wssproxy/wssproxy/tlsconf"
	"github.com/wssproxy/wssproxy/tlsconf/psk"
)

var _ tlsconf.PSKStore = (*Store)(nil)

// GetKey returns a copy of identity's key, or nil (and no error) for an
// unknown identity: a psk.ServerConfig.GetKey, answered from memory
// without waiting for etcd. Only a closed Store is an error.
func (s *Store) GetKey(ctx context.Context, identity []byte) ([]byte, error) {
	if err := s.readable(ctx); err != nil {
		return nil, err
	}
	if len(identity) > psk.MaxIdentityLength {
		return nil, nil
	}
	return slices.Clone(s.view.Load().psk[string(identity)]), nil
}

// PSKIdentities lists the identities held, sorted; never their keys.
func (s *Store) PSKIdentities(ctx context.Context) ([]string, error) {
	if err := s.readable(ctx); err != nil {
		return nil, err
	}
	m := s.view.Load().psk
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

// PutPSK stores key (hex in etcd, under PREFIX/trust/psk/IDENTITY) for
// identity, replacing any previous key. The identity and key follow the
// PSK key file's rules (see tlsconf/psk.ParseKeyFile); errors name the
// identity, never the key. While etcd is away the write is queued (see
// Store).
func (s *Store) PutPSK(ctx context.Context, identity string, key []byte) error {
	if err := checkIdentity(identity); err != nil {
		return err
	}
	if err := psk.CheckKey(key); err != nil {
		return err
	}
	value := make([]byte, hex.EncodedLen(len(key)))
	hex.Encode(value, key)
	_, err := s.write(ctx, pskKey(identity), value)
	return err
}

// DeletePSK removes identity; it reports whether the Store held it.
// While etcd is away the delete is queued (see Store).
func (s *Store) DeletePSK(ctx context.Context, identity string) (bool, error) {
	if err := checkIdentity(identity); err != nil {
		return false, err
	}
	return s.write(ctx, pskKey(identity), nil)
}
