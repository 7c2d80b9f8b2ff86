// Package admin is the operations HTTP API of a wssproxy process: the
// connections being relayed (list, close), the upstream handshakes paused
// on SSL errors (list, resume, abort), metrics in the Prometheus text
// format, and liveness and readiness probes.
//
//	GET  /v1/connections              connections of every Server
//	POST /v1/connections/{id}/close   {"code":1000,"reason":"…"} (optional)
//	GET  /v1/paused                   the tlsconf Registry's pending decisions (one per certificate, with its waiters);
//	                                  with Options.Fleet, the other instances' too, each naming its instance
//	POST /v1/paused/{id}/resume       {"ignore":["KIND[:SHA256]",…],"remember_as_pin":true} (optional)
//	POST /v1/paused/{id}/abort
//	GET  /metrics                     Prometheus text format or OpenMetrics (Accept), wssproxy_ prefix
//	GET  /healthz                     200 while the process runs
//	GET  /readyz                      200 while serving (saying "degraded" when Options.Degraded says why), 503 while draining
//
// Every endpoint but /healthz and /readyz requires "Authorization: Bearer
// TOKEN" when Options.Token is set; serve the handler on TCP only with a
// token (see LoadToken) and without one only on a unix socket whose file
// permissions guard it. Answers are JSON (metrics aside), errors too:
// {"error":"…"} with the status. Request bodies are bounded.
//
// A resume or abort of a handshake this instance does not hold goes
// through Options.Fleet to the instance that does (package proxy/fleet
// carries it over etcd), which applies it with Decide and whose answer
// is returned; 502 when it cannot be reached.
//
// docs/admin.md describes each endpoint with example requests and
// answers, and lists the metrics.
package admin
