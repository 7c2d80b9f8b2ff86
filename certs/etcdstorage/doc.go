// Package etcdstorage keeps certmagic's ACME state (accounts,
// certificates, private keys, challenge tokens, renewal information) and
// its locks in etcd, so that several wssproxy instances behind one name
// share them: the first instance to take a certificate's lock obtains it
// from the CA, the others wait, then load it from etcd; renewals likewise
// happen once for the whole fleet. Pass a [Storage] to
// certs.ACMEOptions.Storage.
//
// # Key layout
//
// With prefix P (given to [New]; a trailing slash is ignored):
//
//	P/acme/data/KEY              the value certmagic stored at KEY, as is
//	                             (PEM certificates and keys, JSON metadata)
//	P/acme/meta/KEY              {"modified":TIME,"size":N} for that value
//	P/acme/locks/NAME/LEASE      one key per contender for lock NAME
//	                             (path-escaped), attached to its etcd lease
//
// KEY is certmagic's slash-separated key, for example
// certificates/acme-v02.api.letsencrypt.org-directory/example.com/example.com.crt.
// A value and its metadata are written and deleted together in one etcd
// transaction. "Directories" are implicit: a key is a directory when
// other keys start with it and a slash. Deployments with different
// prefixes on one cluster do not see each other's keys or locks.
//
// # Locks
//
// Each Lock grants its own etcd lease of Options.LockTTL (15 s by
// default), kept alive by a go.etcd.io/etcd/client/v3/concurrency session
// while the lock is held, and queues a key under the lock's prefix; the
// contender with the oldest key holds the lock. Unlock revokes the lease.
// A holder that crashes, is killed or loses etcd stops renewing its
// lease, so its lock disappears within LockTTL and the next contender
// proceeds. As with any lease-based lock, a holder cut off from etcd for
// longer than LockTTL loses the lock without knowing until Unlock (which
// then reports [ErrLockLost]); certmagic tolerates this, since it checks
// storage again after taking a lock and an extra order only costs one
// more certificate.
//
// # Sizes
//
// etcd refuses requests above its --max-request-bytes, 1.5 MiB by
// default. Store refuses values above Options.MaxValueSize (1 MiB by
// default) with [ErrValueTooLarge] before sending them. certmagic's
// values are a few KiB (a certificate chain, a key, a JSON document).
//
// # When etcd is unreachable
//
// Every etcd request is bounded by Options.Timeout (5 s by default) and
// the caller's context, so nothing hangs. Certificates already loaded
// keep being served from certmagic's in-memory cache: handshakes do not
// touch etcd. Loading a certificate not yet in memory, obtaining one and
// renewing one fail while etcd is away (certmagic checks that its
// storage is writable before each order, and Lock cannot take a lease);
// certmagic logs the failure and retries a renewal at its next
// maintenance pass (every 10 minutes by default), long before the
// certificate expires. Locks held when etcd goes away expire after
// LockTTL, so no lock outlives an outage. Start-up (certs.ACMESource
// Manage) fails until etcd is back.
//
// The etcd client is the caller's: this package never opens or closes
// connections, so TLS, authentication and endpoints are configured once
// for the whole process.
package etcdstorage
