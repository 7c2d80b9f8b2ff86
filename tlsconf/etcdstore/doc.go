// Package etcdstore keeps wssproxy's trust store in etcd, for a fleet of
// instances: the pins remembered per server name (a tlsconf.TrustStore)
// and the TLS-PSK identities (a tlsconf.PSKStore, usable in place of a
// PSK key file as psk.ServerConfig.GetKey). It is built on
// go.etcd.io/etcd/client/v3 and is the only wssproxy package importing
// it; Store.Client shares its connection with the other users of the
// cluster (ACME storage, the fleet's paused handshakes).
//
// # Keys
//
// Everything lives under PREFIX/trust/, PREFIX being Options.Prefix (one
// per deployment, e.g. /wssproxy/prod):
//
//	PREFIX/trust/pins/SERVER/spki-sha256:HEX   a pin entry, JSON (tlsconf.PinEntry)
//	PREFIX/trust/pins/SERVER/cert-sha256:HEX   the same for a whole-certificate pin
//	PREFIX/trust/psk/IDENTITY                  a PSK key in hex (as openssl rand -hex 32 prints it)
//
// SERVER is the entry's server name in lower case ('%' and '/' written
// %25 and %2F); HEX the pin's SHA-256 in lower-case hex. A pin entry is
// the JSON of tlsconf.PinEntry: "server" and "pin" (sha256//BASE64 or
// cert-sha256:HEX) are required, "kinds", "added" (RFC 3339), "source"
// (resume, tofu, operator), "by" and "note" optional; the key must be the
// one its server and pin give. A PSK identity follows the rules of a PSK
// key file line (tlsconf/psk.ParseKeyFile): 1 to 255 bytes, no NUL, no
// ':', no control character, no white space at either end, not starting
// with '#'; the key is 16 to 512 bytes.
//
// An operator uses etcdctl (with the cluster's --endpoints, --cacert,
// --cert, --key and --user as needed):
//
//	# list the pins, the identities (keys only: the values are secrets)
//	etcdctl get --prefix /wssproxy/prod/trust/pins/
//	etcdctl get --prefix --keys-only /wssproxy/prod/trust/psk/
//	# add a pin for upstream.example:443
//	etcdctl put /wssproxy/prod/trust/pins/upstream.example:443/spki-sha256:$HEX \
//	  '{"server":"upstream.example:443","pin":"sha256//'$BASE64'","source":"operator"}'
//	# remove it
//	etcdctl del /wssproxy/prod/trust/pins/upstream.example:443/spki-sha256:$HEX
//	# add, then remove, a PSK identity
//	etcdctl put /wssproxy/prod/trust/psk/device-17 "$(openssl rand -hex 32)"
//	etcdctl del /wssproxy/prod/trust/psk/device-17
//
// where BASE64 is the pin as `wssproxy certs pin` prints it (after
// sha256//) and HEX the same 32 bytes in hex
// (echo $BASE64 | base64 -d | xxd -p -c 32). Every instance applies such a
// change within a second, without a restart.
//
// A malformed value (bad JSON, a key that does not match its entry, a key
// that is not hex or too short, a key outside these two folders) is
// skipped, logged once at Error level naming the key and why (never the
// value, which may be a key), and listed in Status.Malformed: one bad
// hand-written value does not stop a fleet from serving the others.
//
// # Failure behaviour
//
// Reads (Pins, PinsFor, GetKey, PSKIdentities) are answered from memory,
// kept current by one etcd watch on PREFIX/trust/: they never wait for
// etcd. Watch signals every change, from any instance, within a second.
//
// Open reads the whole state within Options.DialTimeout. If etcd cannot
// be reached, Open fails, unless Options.CacheFile holds the state last
// seen: then it returns a degraded Store serving that state, and connects
// in the background. Credentials that etcd refuses are an error either
// way.
//
// A connected Store checks etcd every Options.ProbeInterval with a quorum
// read; when etcd stops answering (the whole cluster, or a quorum of it,
// is gone) the Store becomes degraded (Status.Degraded, logged once per
// transition) and keeps serving what it last saw. No method waits longer
// than Options.OpTimeout. A write made while degraded (or one that etcd
// does not confirm within OpTimeout) is queued: readers of this Store see
// it at once, Status.PendingWrites counts it, the cache file keeps it, and
// the queue is sent in order, in transactions, as soon as etcd answers
// again; it is never dropped silently. The queue holds at most
// Options.MaxPendingWrites keys (a later write to a queued key replaces
// it); beyond that a write fails with ErrQueueFull and is not applied.
// A queued write that etcd refuses when sent (permission denied) is
// dropped and logged with its key (Status.DroppedWrites). When etcd comes
// back the Store reads the whole state again, so that it misses nothing.
//
// Writes are last-writer-wins per key: a write queued during an outage
// and sent afterwards replaces what another instance wrote to the same key
// meanwhile.
//
// # Security
//
// PSK keys are stored in etcd as hex: restrict PREFIX/trust/psk/ to the
// wssproxy user (etcd roles), and use TLS with client certificates or
// user names and passwords. Options.Password, keys and stored PSK values
// are never logged or put in errors; the cache file holds the keys and is
// written with mode 0600 and refused when the group or others may read
// it. Connections to etcd use TLS 1.2 or later when Options.TLS is set.
package etcdstore
