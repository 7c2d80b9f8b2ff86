package tlsconf

import (
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
)

// DefaultSessionCacheSize is a reasonable ClientOptions.SessionCacheSize:
// the sessions of 32 server names. crypto/tls keeps one session per
// server name, so a client that dials one upstream uses one entry.
const DefaultSessionCacheSize = 32

// MaxSessionCacheSize bounds ClientOptions.SessionCacheSize. A session
// holds its server's certificate chain (a few KiB).
const MaxSessionCacheSize = 4096

var errResumeSkipsVerifyPeer = errors.New("tlsconf: session resumption would skip Base.VerifyPeerCertificate " +
	"(crypto/tls does not call it on resumed sessions): move the check to Base.VerifyConnection, or turn resumption off")

// sessionCacheFor returns the session cache of a Client built with base
// and size (see ClientOptions.SessionCacheSize), or nil for none.
//
// Sessions never cross from one Client to another: a Client's own cache
// is its alone, and a cache shared through Base is used under a key
// prefix no other Client has. Another Client may verify with other
// rules, and a session carries what its handshake authenticated, the
// client certificate sent included.
func sessionCacheFor(base *tls.Config, size int) (tls.ClientSessionCache, error) {
	shared := base.ClientSessionCache
	switch {
	case size < 0 || size > MaxSessionCacheSize:
		return nil, fmt.Errorf("tlsconf: SessionCacheSize %d: want 0 (no resumption) to %d", size, MaxSessionCacheSize)
	case size > 0 && shared != nil:
		return nil, errors.New("tlsconf: SessionCacheSize and Base.ClientSessionCache exclude each other")
	case size > 0 && base.SessionTicketsDisabled:
		return nil, errors.New("tlsconf: SessionCacheSize asks for resumption, Base.SessionTicketsDisabled turns it off")
	case (size > 0 || shared != nil) && !base.SessionTicketsDisabled && base.VerifyPeerCertificate != nil:
		return nil, errResumeSkipsVerifyPeer
	case size > 0:
		return tls.NewLRUClientSessionCache(size), nil
	case shared != nil:
		return &scopedSessionCache{inner: shared, prefix: rand.Text() + "\x00"}, nil
	}
	return nil, nil
}

// scopedSessionCache is a tls.ClientSessionCache shared with others (a
// Base.ClientSessionCache) seen through a key prefix of one Client's own.
type scopedSessionCache struct {
	inner  tls.ClientSessionCache
	prefix string
}

// Get returns the session stored under key by the same Client.
func (s *scopedSessionCache) Get(key string) (*tls.ClientSessionState, bool) {
	return s.inner.Get(s.prefix + key)
}

// Put stores cs under key for the same Client (nil removes it).
func (s *scopedSessionCache) Put(key string, cs *tls.ClientSessionState) {
	s.inner.Put(s.prefix+key, cs)
}
