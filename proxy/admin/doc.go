// Package admin is the operations HTTP API of a wssproxy process: the
// connections being relayed (list, close), the upstream handshakes paused
// on SSL errors (list, resume, abort), metrics in the Prometheus text
// format, and liveness and readiness probes.
//
//	GET  /v1/connections              connections of every Server
//	POST /v1/connections/{id}/close   {"code":1000,"reason":"…"} (optional)
//	GET  /v1/paused                   the tlsconf Registry's pending decisions (one per certificate, with its waiters)
//	POST /v1/paused/{id}/resume       {"ignore":["KIND[:SHA256]",…],"remember_as_pin":true} (optional)
//	POST /v1/paused/{id}/abort
//	GET  /metrics                     Prometheus text format or OpenMetrics (Accept), wssproxy_ prefix
//	GET  /healthz                     200 while the process runs
//	GET  /readyz                      200 while serving, 503 while draining
//
// Every endpoint but /healthz and /readyz requires "Authorization: Bearer
// TOKEN" when Options.Token is set; serve the handler on TCP only with a
// token (see LoadToken) and without one only on a unix socket whose file
// permissions guard it. Answers are JSON (metrics aside), errors too:
// {"error":"…"} with the status. Request bodies are bounded.
//
// docs/admin.md describes each endpoint with example requests and
// answers, and lists the metrics.
package admin
