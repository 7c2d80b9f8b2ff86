package main

import (
	"slices"
	"time"
)

// Result is one scenario's run against one target. Per-unit figures are
// of the target's own CPU time and resident memory (sampled from /proc),
// zero when no --pid was given. JSON field names are stable: the report
// subcommand and bench/compare.sh read them.
type Result struct {
	Target   string `json:"target,omitempty"`
	Round    int    `json:"round,omitempty"`
	Scenario string `json:"scenario"`
	TLS      string `json:"tls,omitempty"`

	// Conns is the number of connections the scenario keeps open
	// (idle connections for idle and mixed, active ones otherwise).
	Conns       int     `json:"conns"`
	ActiveConns int     `json:"active_conns,omitempty"`
	MsgSize     int     `json:"msg_size,omitempty"`
	Seconds     float64 `json:"seconds"` // length of the measured window

	// Target process figures over the measured window.
	TargetProcs  int     `json:"target_procs,omitempty"`
	CPUSeconds   float64 `json:"cpu_s"`
	RSSBeforeKiB int64   `json:"rss_before_kib,omitempty"`
	RSSOpenKiB   int64   `json:"rss_open_kib,omitempty"`

	// idle, mixed: (RSS with Conns open - RSS before) / Conns.
	IdleKiBPerConn float64 `json:"idle_kib_per_conn,omitempty"`
	// idle, mixed: the target's CPU while the idle connections sat
	// open (keepalive timers), per connection and second, in µs.
	IdleCPUMicrosPerConnSec float64 `json:"idle_cpu_us_per_conn_s,omitempty"`
	OpenPerSec              float64 `json:"open_per_s,omitempty"`

	// small, bulk, mixed: echoed messages (each crosses the target twice).
	Messages        int64   `json:"messages,omitempty"`
	PayloadBytes    int64   `json:"payload_bytes,omitempty"` // sent by the clients
	CPUMicrosPerMsg float64 `json:"cpu_us_per_msg,omitempty"`
	MsgsPerSec      float64 `json:"msgs_per_s,omitempty"`
	// bulk: CPU seconds per 10^9 payload bytes sent (and echoed back),
	// and MB (10^6 bytes) of payload sent per second.
	CPUSecPerGB float64 `json:"cpu_s_per_gb,omitempty"`
	MBPerSec    float64 `json:"mb_per_s,omitempty"`

	// setup: connect/echo/close cycles.
	Handshakes       int64   `json:"handshakes,omitempty"`
	CPUMillisPerConn float64 `json:"cpu_ms_per_conn,omitempty"`
	HandshakesPerSec float64 `json:"handshakes_per_s,omitempty"`

	// Latency in milliseconds: echo round trips (small, bulk, mixed) or
	// the opening handshake (setup: TCP + TLS + upgrade + upstream).
	LatencyP50Ms  float64 `json:"p50_ms,omitempty"`
	LatencyP99Ms  float64 `json:"p99_ms,omitempty"`
	LatencyP999Ms float64 `json:"p999_ms,omitempty"`
	LatencyMaxMs  float64 `json:"max_ms,omitempty"`
	Samples       int     `json:"samples,omitempty"`
}

// setLatency fills the percentiles from the samples (sorted in place).
func (r *Result) setLatency(d []time.Duration) {
	r.Samples = len(d)
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	ms := func(x time.Duration) float64 { return float64(x) / float64(time.Millisecond) }
	r.LatencyP50Ms = ms(quantile(d, 0.50))
	r.LatencyP99Ms = ms(quantile(d, 0.99))
	r.LatencyP999Ms = ms(quantile(d, 0.999))
	r.LatencyMaxMs = ms(d[len(d)-1])
}

// quantile returns the q-quantile of sorted samples (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}
