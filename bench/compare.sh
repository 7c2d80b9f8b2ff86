#!/usr/bin/env bash
# Compares wssproxy with HAProxy, nginx and Caddy as wss -> ws WebSocket
# proxies in front of the same echo upstream, with bench/load, and prints
# a markdown table of medians and ratios (BENCHMARKS.md holds a run).
#
#   bench/compare.sh                     # install peers, 3 rounds, all scenarios, 9,000 idle
#   ROUNDS=1 SCENARIOS="idle small" bench/compare.sh
#   TARGETS="wssproxy haproxy" DURATION=5s bench/compare.sh
#   PROFILE=1 bench/compare.sh           # then profile the relay: heap at CONNS idle, CPU under small, setup, bulk
#   ROUNDS=0 PROFILE=1 bench/compare.sh  # the profiles only
#
# Run by hand, never in CI: it installs packages (apt-get, go install),
# needs root for apt, and takes about 20 minutes with the defaults.
#
# Each round runs every scenario against every target, one target at a
# time on a freshly started process (so that one scenario's buffers never
# count in the next one's memory), the targets' order rotated each round;
# the report is the median over rounds. Every target gets the same
# certificate (ECDSA P-256 from `wssproxy certs dev`), the same upstream
# (`wssproxy echo` on loopback), 2 worker threads or processes, no
# per-connection logging, and the client forces TLS 1.3 with X25519
# (bench/load negotiates TLS_AES_128_GCM_SHA256 with all of them; the
# JSON results record it per run).
#
# Every knob is an environment variable (defaults in brackets):
#   ROUNDS [3]  TARGETS [wssproxy haproxy nginx caddy]
#   SCENARIOS [idle small setup bulk mixed]
#   CONNS [9000] idle connections; MIXED_CONNS [$CONNS] for mixed
#   DURATION [10s] WARMUP [2s] SETTLE [4s]  measured window, warm-up, idle settle time
#   LOAD_ARGS []  more bench/load flags (e.g. "--small-conns 50")
#   ECHO_PORT [19080] WSSPROXY_PORT [19443] HAPROXY_PORT [19444]
#   NGINX_PORT [19445] CADDY_PORT [19446] PPROF_PORT [19460]
#   WORK [a new temporary folder]  configs, logs, results.jsonl, report.md
#   INSTALL [1]  0: use nginx, haproxy and caddy as found on PATH
#   CADDY_VERSION [v2.11.9]  installed with go install into $(go env GOPATH)/bin
#   PSK [1]      1: after the rounds, compare TLS 1.3 PSK (psk_dhe_ke) and
#                certificate handshakes on one wssproxy listener (--cert
#                and --psk-file on the same port): ROUNDS rounds of setup
#                each, order rotated; the report gives psk/cert
#   PROFILE [0]  1: after the rounds, profile the relay (bench/profserve,
#                the same proxy.Server with pprof on PPROF_PORT): a heap
#                profile and runtime.MemStats with CONNS idle connections
#                open, and a CPU profile of each of small, setup and bulk
#                over DURATION; prints the top of each.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

ROUNDS=${ROUNDS:-3}
TARGETS=${TARGETS:-"wssproxy haproxy nginx caddy"}
SCENARIOS=${SCENARIOS:-"idle small setup bulk mixed"}
CONNS=${CONNS:-9000}
MIXED_CONNS=${MIXED_CONNS:-$CONNS}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
SETTLE=${SETTLE:-4s}
LOAD_ARGS=${LOAD_ARGS:-}
ECHO_PORT=${ECHO_PORT:-19080}
WSSPROXY_PORT=${WSSPROXY_PORT:-19443}
HAPROXY_PORT=${HAPROXY_PORT:-19444}
NGINX_PORT=${NGINX_PORT:-19445}
CADDY_PORT=${CADDY_PORT:-19446}
PPROF_PORT=${PPROF_PORT:-19460}
INSTALL=${INSTALL:-1}
CADDY_VERSION=${CADDY_VERSION:-v2.11.9}
PROFILE=${PROFILE:-0}
PSK=${PSK:-1}
WORK=${WORK:-$(mktemp -d -t wssproxy-compare.XXXXXX)}
mkdir -p "$WORK"/{bin,certs,logs,nginx,haproxy,caddy}
WORK=$(cd "$WORK" && pwd)
RESULTS=$WORK/results.jsonl
: >"$RESULTS"

log() { echo "compare: $*" >&2; }

# --- processes: everything started here is stopped on exit --------------
PIDS=()
stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() {
  local port=$1 pid=$2
  for _ in $(seq 200); do
    if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}

# --- installation --------------------------------------------------------
GOBIN_DIR=$(go env GOPATH)/bin
if [ "$INSTALL" = 1 ]; then
  need=()
  command -v nginx >/dev/null || need+=(nginx)
  command -v haproxy >/dev/null || need+=(haproxy)
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]} (apt-get)"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    # The packages' own services are not used (on a machine with systemd
    # the packages start them on their default configuration; stop them
    # with systemctl if unwanted): each target runs here in the
    # foreground with its own configuration and ports.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
  fi
  if ! go version -m "$GOBIN_DIR/caddy" 2>/dev/null | grep -q "mod[[:space:]]*github.com/caddyserver/caddy/v2[[:space:]]*$CADDY_VERSION"; then
    log "installing caddy $CADDY_VERSION (go install)"
    go install "github.com/caddyserver/caddy/v2/cmd/caddy@$CADDY_VERSION"
  fi
fi
CADDY=$(command -v caddy || echo "$GOBIN_DIR/caddy")

log "building wssproxy and bench/load into $WORK/bin"
go build -o "$WORK/bin/wssproxy" ./cmd/wssproxy
go build -o "$WORK/bin/load" ./bench/load
WSSPROXY=$WORK/bin/wssproxy
LOAD=$WORK/bin/load

# --- certificate and upstream ---------------------------------------------
"$WSSPROXY" certs dev --dir "$WORK/certs" >/dev/null
CERT=$WORK/certs/cert.pem KEY=$WORK/certs/key.pem CA=$WORK/certs/ca.pem
cat "$CERT" "$KEY" >"$WORK/haproxy/cert+key.pem"
chmod 600 "$WORK/haproxy/cert+key.pem"

"$WSSPROXY" echo --listen "127.0.0.1:$ECHO_PORT" --log-level warn >"$WORK/logs/echo.log" 2>&1 &
ECHO_PID=$!
PIDS+=("$ECHO_PID")
wait_port "$ECHO_PORT" "$ECHO_PID" || { log "echo upstream did not start"; cat "$WORK/logs/echo.log" >&2; exit 1; }
UPSTREAM=ws://127.0.0.1:$ECHO_PORT/

# --- configurations --------------------------------------------------------
# nginx 1.22: production settings for many long-lived WebSockets.
cat >"$WORK/nginx/nginx.conf" <<EOF
# Two worker processes, as the other targets get two threads.
worker_processes 2;
# Each proxied connection holds two descriptors: 9,000 need 18,000; the
# hard limit on this machine is 20,000.
worker_rlimit_nofile 20000;
pid $WORK/nginx/nginx.pid;
error_log $WORK/logs/nginx-error.log warn;
events {
    # Connections per worker (client and upstream sockets both count).
    worker_connections 19000;
}
http {
    # No per-connection logging on any target.
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    # The upgrade headers: Connection: upgrade only when the client asked.
    map \$http_upgrade \$connection_upgrade {
        default upgrade;
        ''      close;
    }
    upstream echo {
        server 127.0.0.1:$ECHO_PORT;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT ssl;
        ssl_certificate     $CERT;
        ssl_certificate_key $KEY;
        ssl_protocols TLSv1.2 TLSv1.3;
        # X25519 first, P-256 for older clients.
        ssl_ecdh_curve X25519:prime256v1;
        # AES-128-GCM first (OpenSSL's default puts AES-256 first).
        ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256;
        ssl_session_cache shared:SSL:10m;
        # 16k (the default) is the TLS record size for throughput; 4k
        # lowers time to first byte but costs CPU per GB. nginx releases
        # its OpenSSL buffers on idle connections (SSL_MODE_RELEASE_BUFFERS).
        ssl_buffer_size 16k;
        location / {
            proxy_pass http://echo;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
            proxy_set_header Host \$host;
            proxy_connect_timeout 5s;
            # An upgraded connection is closed after this long without
            # data (default 60s): long-lived idle WebSockets need more.
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            # Buffer per direction of an upgraded connection (default one
            # page, 4k); the WebSocket tunnel streams through it.
            proxy_buffer_size 4k;
        }
    }
}
EOF

# HAProxy 2.6: the same, in HAProxy's terms.
cat >"$WORK/haproxy/haproxy.cfg" <<EOF
global
    # Two threads in one process.
    nbthread 2
    # 9,000 proxied connections plus the mixed scenario's 100; HAProxy
    # sizes its descriptor table from this (two per connection), within
    # the 20,000 hard limit.
    maxconn 9400
    # Buffers are allocated on demand and released when a stream is
    # idle, so an idle tunnel holds none; 16k (the default) holds a full
    # TLS record.
    tune.bufsize 16384
    ssl-default-bind-options ssl-min-ver TLSv1.2
    ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256
    ssl-default-bind-curves X25519:P-256
    # No logging (no "log" line): no per-connection lines on any target.
defaults
    mode http
    timeout connect 5s
    # Until the upgrade: the client's and the server's inactivity.
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    # After the upgrade, an idle WebSocket lives until this (both sides).
    timeout tunnel 1h
    timeout client-fin 30s
frontend wss
    bind 127.0.0.1:$HAPROXY_PORT ssl crt $WORK/haproxy/cert+key.pem alpn http/1.1
    maxconn 9400
    default_backend echo
backend echo
    # HAProxy forwards the Upgrade and Connection headers of a WebSocket
    # handshake and switches to tunnel mode on 101 by itself.
    server echo 127.0.0.1:$ECHO_PORT maxconn 9400
EOF

# Caddy 2: a Caddyfile with the same settings.
cat >"$WORK/caddy/Caddyfile" <<EOF
{
    # No admin endpoint, no automatic HTTPS (the certificate is given),
    # no state saved outside \$WORK.
    admin off
    auto_https off
    persist_config off
    storage file_system $WORK/caddy/data
    servers {
        # WebSockets over HTTP/1.1, as the other targets serve them.
        protocols h1
        timeouts {
            read_header 10s
        }
    }
}
127.0.0.1:$CADDY_PORT {
    tls $CERT $KEY {
        protocols tls1.2 tls1.3
        curves x25519 secp256r1
    }
    # No access log (Caddy logs requests only with a log directive).
    reverse_proxy 127.0.0.1:$ECHO_PORT {
        # reverse_proxy passes the upgrade headers and tunnels the
        # WebSocket itself; upgraded streams have no timeout by default
        # (stream_timeout) and are closed with the server.
        flush_interval -1
        transport http {
            dial_timeout 5s
        }
    }
}
EOF

# wssproxy: the flags equivalent to the above. GOMAXPROCS is 2 (two
# cores); keepalive pings every 30s on each leg stay on (the default);
# per-connection log lines are at info, so warn keeps them off.
wssproxy_cmd=("$WSSPROXY" serve --listen "127.0.0.1:$WSSPROXY_PORT" --cert "$CERT" --key "$KEY"
  --upstream "$UPSTREAM" --max-connections 10000 --log-level warn)
nginx_cmd=(nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g "daemon off;")
haproxy_cmd=(haproxy -db -f "$WORK/haproxy/haproxy.cfg")
caddy_cmd=(env XDG_DATA_HOME="$WORK/caddy" XDG_CONFIG_HOME="$WORK/caddy" "$CADDY" run --adapter caddyfile --config "$WORK/caddy/Caddyfile")

port_of() {
  case $1 in
    wssproxy) echo "$WSSPROXY_PORT" ;; haproxy) echo "$HAPROXY_PORT" ;;
    nginx) echo "$NGINX_PORT" ;; caddy) echo "$CADDY_PORT" ;;
    *) log "unknown target $1"; exit 2 ;;
  esac
}

# Check every configuration before the first round.
for t in $TARGETS; do
  case $t in
    nginx) nginx -t -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" 2>"$WORK/logs/nginx-t.log" || { cat "$WORK/logs/nginx-t.log" >&2; exit 1; } ;;
    haproxy) haproxy -c -f "$WORK/haproxy/haproxy.cfg" >"$WORK/logs/haproxy-c.log" 2>&1 || { cat "$WORK/logs/haproxy-c.log" >&2; exit 1; } ;;
    caddy) "$CADDY" validate --adapter caddyfile --config "$WORK/caddy/Caddyfile" >"$WORK/logs/caddy-validate.log" 2>&1 || { cat "$WORK/logs/caddy-validate.log" >&2; exit 1; } ;;
    wssproxy) ;;
    *) log "unknown target $t (want wssproxy, haproxy, nginx, caddy)"; exit 2 ;;
  esac
done

# start_target NAME: starts it in the foreground of a background job,
# sets TARGET_PID once its port accepts.
start_target() {
  local t=$1 logf=$WORK/logs/$1.log
  case $t in
    wssproxy) "${wssproxy_cmd[@]}" >>"$logf" 2>&1 & ;;
    nginx) "${nginx_cmd[@]}" >>"$logf" 2>&1 & ;;
    haproxy) "${haproxy_cmd[@]}" >>"$logf" 2>&1 & ;;
    caddy) "${caddy_cmd[@]}" >>"$logf" 2>&1 & ;;
  esac
  TARGET_PID=$!
  PIDS+=("$TARGET_PID")
  if ! wait_port "$(port_of "$t")" "$TARGET_PID"; then
    log "$t did not start; its log:"; tail -20 "$logf" >&2; exit 1
  fi
  sleep 0.5
}

stop_target() {
  stop_pid "$TARGET_PID"
  local keep=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$TARGET_PID" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

# --- the rounds ---------------------------------------------------------------
read -r -a targets <<<"$TARGETS"
{
  echo "date: $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME"), open files $(ulimit -n)"
  echo "go: $(go version)"
  command -v haproxy >/dev/null && echo "haproxy: $(haproxy -v | head -1)"
  command -v nginx >/dev/null && echo "nginx: $(nginx -v 2>&1)"
  [ -x "$CADDY" ] && echo "caddy: $(go version -m "$CADDY" | awk '$1 == "mod" {print $2, $3}')"
  echo "settings: ROUNDS=$ROUNDS CONNS=$CONNS MIXED_CONNS=$MIXED_CONNS DURATION=$DURATION WARMUP=$WARMUP SETTLE=$SETTLE LOAD_ARGS=$LOAD_ARGS"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$WORK/run.txt" >&2

start=$(date +%s)
for round in $(seq "$ROUNDS"); do
  n=${#targets[@]}
  rot=$(( (round - 1) % n ))
  order=("${targets[@]:rot}" "${targets[@]:0:rot}")
  for scenario in $SCENARIOS; do
    conns=$CONNS
    [ "$scenario" = mixed ] && conns=$MIXED_CONNS
    for t in "${order[@]}"; do
      log "round $round/$ROUNDS, $scenario, $t ($(( $(date +%s) - start ))s elapsed)"
      start_target "$t"
      # shellcheck disable=SC2086 # LOAD_ARGS is a list of flags
      if ! "$LOAD" --url "wss://127.0.0.1:$(port_of "$t")/" --ca "$CA" --pid "$TARGET_PID" \
          --scenario "$scenario" --conns "$conns" --duration "$DURATION" --warmup "$WARMUP" \
          --settle "$SETTLE" --label "$t" --round "$round" --json $LOAD_ARGS \
          >>"$RESULTS" 2>>"$WORK/logs/load.log"; then
        log "$scenario against $t failed; see $WORK/logs/load.log and $WORK/logs/$t.log"
        tail -5 "$WORK/logs/load.log" >&2
        exit 1
      fi
      stop_target
    done
  done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg); $(( $(date +%s) - start ))s" | tee -a "$WORK/run.txt" >&2

if [ -s "$RESULTS" ]; then
  "$LOAD" report --baseline wssproxy "$RESULTS" | tee "$WORK/report.md"
  echo
  echo "TLS negotiated per target:"
  jq -r '"\(.target): \(.tls)"' "$RESULTS" 2>/dev/null | sort -u || true
fi

# --- PSK against certificate handshakes on one wssproxy listener -----------
if [ "$PSK" = 1 ] && [ "$ROUNDS" -gt 0 ]; then
  key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
  ( umask 077; echo "bench:$key" >"$WORK/psk.keys"; echo "$key" >"$WORK/psk.key" )
  psk_cmd=("${wssproxy_cmd[@]}" --psk-file "$WORK/psk.keys")
  : >"$WORK/psk.jsonl"
  for round in $(seq "$ROUNDS"); do
    order=(cert psk)
    [ $((round % 2)) = 0 ] && order=(psk cert)
    for mode in "${order[@]}"; do
      log "PSK comparison: round $round/$ROUNDS, setup with $mode"
      "${psk_cmd[@]}" >>"$WORK/logs/wssproxy-psk.log" 2>&1 &
      TARGET_PID=$!
      PIDS+=("$TARGET_PID")
      wait_port "$WSSPROXY_PORT" "$TARGET_PID" || { log "wssproxy with --psk-file did not start"; tail -5 "$WORK/logs/wssproxy-psk.log" >&2; exit 1; }
      sleep 0.5
      if [ "$mode" = psk ]; then auth=(--psk-identity bench --psk-key-file "$WORK/psk.key"); else auth=(--ca "$CA"); fi
      # shellcheck disable=SC2086 # LOAD_ARGS is a list of flags
      "$LOAD" --url "wss://127.0.0.1:$WSSPROXY_PORT/" "${auth[@]}" --pid "$TARGET_PID" --scenario setup \
        --duration "$DURATION" --warmup "$WARMUP" --label "wssproxy-$mode" --round "$round" --json $LOAD_ARGS \
        >>"$WORK/psk.jsonl" 2>>"$WORK/logs/load.log" || { log "PSK comparison failed; see $WORK/logs/load.log"; exit 1; }
      stop_target
    done
  done
  echo
  echo "TLS 1.3 PSK (psk_dhe_ke) against certificate handshakes, same wssproxy listener:"
  "$LOAD" report --baseline wssproxy-psk "$WORK/psk.jsonl" | tee "$WORK/psk-report.md"
  jq -r '"\(.target): \(.tls)"' "$WORK/psk.jsonl" 2>/dev/null | sort -u || true
fi

# --- profiles of the relay --------------------------------------------------
# to_seconds D: a Go duration of one unit (300ms, 5s, 2m) in seconds.
to_seconds() {
  awk -v d="$1" 'BEGIN {
    if (d ~ /ms$/) { sub(/ms$/, "", d); print d / 1000 }
    else if (d ~ /m$/) { sub(/m$/, "", d); print d * 60 }
    else { sub(/s$/, "", d); print d + 0 }
  }'
}
start_profserve() {
  "$WORK/bin/profserve" --listen "127.0.0.1:$WSSPROXY_PORT" --cert "$CERT" --key "$KEY" \
    --upstream "$UPSTREAM" --pprof "127.0.0.1:$PPROF_PORT" >>"$WORK/logs/profserve.log" 2>&1 &
  TARGET_PID=$!
  PIDS+=("$TARGET_PID")
  wait_port "$WSSPROXY_PORT" "$TARGET_PID" || { log "profserve did not start"; cat "$WORK/logs/profserve.log" >&2; exit 1; }
}
if [ "$PROFILE" = 1 ]; then
  go build -o "$WORK/bin/profserve" ./bench/profserve
  PPROF=http://127.0.0.1:$PPROF_PORT/debug/pprof
  log "profile: heap with $CONNS idle connections (bench/profserve)"
  start_profserve
  "$LOAD" --url "wss://127.0.0.1:$WSSPROXY_PORT/" --ca "$CA" --pid "$TARGET_PID" --scenario idle \
    --conns "$CONNS" --settle "$SETTLE" --label profserve --json --profile-dir "$WORK" \
    --profile-url "$PPROF/heap?gc=1" --profile-url "$PPROF/heap?debug=1" --profile-url "$PPROF/goroutine?debug=1" \
    >>"$WORK/profile.jsonl" 2>>"$WORK/logs/load.log"
  stop_target
  tail -1 "$WORK/profile.jsonl"
  go tool pprof -top -sample_index=inuse_space "$WORK/bin/profserve" "$WORK/heap.pprof" 2>/dev/null | head -30 | tee "$WORK/heap-top.txt"
  echo "runtime.MemStats at $CONNS idle connections:"
  grep -E '^# (Sys|HeapSys|HeapInuse|HeapIdle|HeapReleased|HeapObjects|Stack|MSpan|GCSys|OtherSys|NumGC|MaxRSS) ' "$WORK/heap.txt" | tee "$WORK/memstats.txt"
  echo "goroutines: $(head -1 "$WORK/goroutine.txt")"
  secs=$(to_seconds "$DURATION" | awk '{ s = int($1 + 0.5); print (s < 1 ? 1 : s) }')
  for scenario in small setup bulk; do
    log "profile: CPU under $scenario"
    start_profserve
    # The CPU profile covers the measured window (after the warm-up).
    ( sleep "$(to_seconds "$WARMUP")"; curl -fsS "$PPROF/profile?seconds=$secs" -o "$WORK/cpu-$scenario.pprof" ) &
    curl_pid=$!
    "$LOAD" --url "wss://127.0.0.1:$WSSPROXY_PORT/" --ca "$CA" --pid "$TARGET_PID" --scenario "$scenario" \
      --duration "$DURATION" --warmup "$WARMUP" --label profserve --json \
      >>"$WORK/profile.jsonl" 2>>"$WORK/logs/load.log"
    wait "$curl_pid" || log "no CPU profile for $scenario"
    stop_target
    tail -1 "$WORK/profile.jsonl"
    echo "CPU profile under $scenario (top, cumulative):"
    go tool pprof -top -cum "$WORK/bin/profserve" "$WORK/cpu-$scenario.pprof" 2>/dev/null | head -45 | tee "$WORK/cpu-$scenario-top.txt"
  done
fi
log "results: $RESULTS, report: $WORK/report.md, logs: $WORK/logs"
