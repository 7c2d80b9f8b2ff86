// Package conformance is wssproxy's own WebSocket conformance suite for the
// ws endpoint, run against the ws/echo server. It stands in for the
// Autobahn Testsuite (Python 2, not installable here) and reproduces the
// semantics of its fuzzingclient cases for sections 1-7, 9 and 10, named
// by Autobahn's case ids ("6.3.1"), with extra cases marked "extra" or with
// a variant suffix ("6.20.1-failfast").
//
// The tests are a raw-frame client: they build every frame byte by byte
// with the masking they choose, split writes at any byte boundary
// (Autobahn's chopsize), and decode the server's frames with their own
// parser, so nothing of package ws is trusted on the client side. Each
// case runs over real loopback TCP against two servers: httptest with
// echo.Handler (net/http hijack), and a raw listener using ws.ReadUpgrade,
// Upgrade.Accept and echo.Serve (the proxy's path).
//
// A case passes only as Autobahn's "OK", graded strictly: exactly the
// expected echoes and pongs in order, then a close frame with exactly the
// expected code, nothing after it, and the server closing TCP first.
//
// Run it with
//
//	go test -race ./tests/conformance/
//	WSSPROXY_HEAVY=1 go test -run Heavy ./tests/conformance/   # all of section 9
//
// Where this suite differs from Autobahn, deliberately:
//   - Autobahn accepts a dropped TCP connection without a close frame
//     (requireClean false) and, for valid close codes, 1000 instead of the
//     echoed code; we require the close frame with the exact code, and the
//     echoed code and reason.
//   - 7.5.1 (close reason not UTF-8): Autobahn accepts 1002 or 1007; we
//     require 1007.
//   - 7.1.6 and 7.13.x are INFORMATIONAL in Autobahn; we require the echo
//     server's defined behaviour: both messages echoed before the close is
//     answered (it reads in order), and codes 5000 and 65535 refused with
//     1002 (RFC 6455 §7.4.2 defines nothing above 4999).
//   - 1012-1014 are registered close codes today: valid (7.7.extra), where
//     old Autobahn versions listed them as invalid; 1015 is invalid on the
//     wire (7.9.extra).
//   - 6.4.x fail fast: Autobahn grades a failure that comes only after the
//     last part as NON-STRICT; we require the failure before it is sent.
//     Every invalid sequence of 6.5-6.23 is also cut right after its
//     offending byte (-failfast) and must fail without the rest of the
//     frame; ones invalid only because they end early are sent as a
//     non-final fragment (-open) and must not fail until the message ends.
//   - Waits are shorter: Autobahn's 1 s continueLater is 100 ms here.
//   - Section 9 checks the echoed bytes, not only their length. Under
//     -race a subset runs; TestSection9Heavy runs all of it.
//   - Section 10 has only 10.1.1 in Autobahn; the 10.limit cases check
//     MaxIncomingFrameSize and MaxIncomingMessageSize (1009, decided on the
//     frame header) and TestLimitsMemoryBounded checks that memory stays
//     bounded by the limit.
//   - The server may answer a connection it fails with a TCP reset when
//     our later frames are unread in its socket; the close frame must have
//     arrived first. Clean closes must end with a FIN.
package conformance
