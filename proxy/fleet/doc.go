// Package fleet shares the paused upstream handshakes of several wssproxy
// instances through etcd, so that the admin API of any instance lists
// them all and decides any of them.
//
// Each instance publishes its tlsconf.Registry's pending decisions under
//
//	PREFIX/paused/INSTANCE/ID      the PausedHandshake as the admin API shows it
//
// with a lease of its own: the keys vanish when the instance stops or dies.
// A resume or abort posted on another instance is written, if the paused
// key still exists, to
//
//	PREFIX/decisions/INSTANCE/ID   the admin.Decision (with the requester's lease)
//
// The holder watches its own decisions prefix, applies each with
// admin.Decide, and answers under
//
//	PREFIX/outcomes/REQUESTER/REQ  the admin.Outcome (with the requester's lease)
//
// which the requesting instance waits for (Options.DecisionTimeout) and
// gives its HTTP client. A pin remembered by the resume goes through the
// holder's Registry and thus its trust store: with the etcd store every
// instance sees it.
//
// Everything is bounded: listing reads at most MaxPaused keys, each value
// at most MaxValueBytes, every etcd call has a timeout, and Run's
// goroutines end with its context.
package fleet
