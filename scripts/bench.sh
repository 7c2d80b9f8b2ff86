#!/usr/bin/env bash
# Runs the ws benchmarks (frame headers, masking, per-frame Conn paths;
# ./ws/) and the loopback echo against gorilla/websocket and
# coder/websocket (tests/thirdparty, in the tests module) with
# -benchmem -count=5 and summarises them: benchstat when the module proxy
# serves it, else medians computed here. ws/BENCHMARKS.md holds a run.
#
#   scripts/bench.sh                 # everything
#   BENCH=Echo scripts/bench.sh      # a -bench regexp
#   COUNT=10 BENCHTIME=2s scripts/bench.sh
#   OUT=/tmp/b.txt scripts/bench.sh  # keep the raw output there
#   scripts/bench.sh --summarise FILE   # summarise an earlier run only
set -euo pipefail
cd "$(dirname "$0")/.."

summarise_only=""
if [ "${1:-}" = "--summarise" ]; then
  summarise_only="${2:?usage: bench.sh --summarise FILE}"
fi

BENCH="${BENCH:-.}"
COUNT="${COUNT:-5}"
BENCHTIME="${BENCHTIME:-1s}"
OUT="${OUT:-$(mktemp -t wssproxy-bench.XXXXXX)}"

if [ -n "$summarise_only" ]; then
  OUT="$summarise_only"
else
  {
    echo "# date: $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
    echo "# nproc: $(nproc)"
    echo "# cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    echo "# $(go version)"
    echo "# load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  } >"$OUT"
  # The echo against gorilla/websocket and coder/websocket lives in the
  # tests module (tests/thirdparty), which keeps them out of go.mod.
  echo "bench: go test ./ws/ and (cd tests && go test ./thirdparty/) -run XXX -bench '$BENCH' -benchmem -count=$COUNT -benchtime=$BENCHTIME (raw output: $OUT)" >&2
  go test ./ws/ -run XXX -bench "$BENCH" -benchmem -count="$COUNT" -benchtime="$BENCHTIME" -timeout 60m | tee -a "$OUT" >&2
  (cd tests && go test ./thirdparty/ -run XXX -bench "$BENCH" -benchmem -count="$COUNT" -benchtime="$BENCHTIME" -timeout 60m) | tee -a "$OUT" >&2
fi

benchstat() { go run golang.org/x/perf/cmd/benchstat@latest "$@"; }

echo
sed -n 's/^# //p' "$OUT" | grep -E '^(date|nproc|cpu|go version|load average)' || true
echo
if benchstat -h >/dev/null 2>&1; then
  echo "== all benchmarks (benchstat: medians ± 95% confidence)"
  benchstat "$OUT"
  echo
  echo "== echo: ours vs gorilla/websocket vs coder/websocket (base column: ours)"
  benchstat -filter '.name:Echo' -col /impl "$OUT"
  echo
  echo "== masking: ws.Mask vs the naive byte loop (base column: ws)"
  benchstat -filter '.name:Mask' -col /impl "$OUT"
else
  echo "== benchstat unavailable: raw lines follow, then medians"
  grep '^Benchmark' "$OUT"
fi

# Medians per benchmark (benchstat-independent), then the echo table of
# BENCHMARKS.md: medians of ns/op and ratios ours/gorilla, ours/coder.
echo
echo "== medians of $COUNT runs"
awk '
function median(key,   n, i, j, t, a) {
  n = cnt[key]
  for (i = 1; i <= n; i++) a[i] = v[key, i]
  for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j+1] = a[j]; a[j+1] = t }
  return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
/^Benchmark/ {
  name = $1; sub(/-[0-9]+$/, "", name)
  if (!(name in seen)) { seen[name] = 1; order[++nnames] = name }
  for (i = 3; i < NF; i += 2) {
    k = name SUBSEP $(i+1); cnt[k]++; v[k, cnt[k]] = $i + 0
    units[$(i+1)] = 1
  }
}
END {
  printf "%-58s %12s %10s %8s %10s\n", "benchmark", "ns/op", "MB/s", "B/op", "allocs/op"
  for (n = 1; n <= nnames; n++) {
    name = order[n]
    mbs = (name SUBSEP "MB/s") in cnt ? sprintf("%.1f", median(name SUBSEP "MB/s")) : "-"
    printf "%-58s %12.1f %10s %8.0f %10.0f\n", name, median(name SUBSEP "ns/op"), mbs, median(name SUBSEP "B/op"), median(name SUBSEP "allocs/op")
  }
  print ""
  print "| benchmark | ours | gorilla | coder | ours/gorilla | ours/coder |"
  print "|---|---|---|---|---|---|"
  for (n = 1; n <= nnames; n++) {
    name = order[n]
    if (name !~ /^BenchmarkEcho\/.*\/impl=ours$/) continue
    base = name; sub(/\/impl=ours$/, "", base)
    o = median(name SUBSEP "ns/op")
    g = ((base "/impl=gorilla") SUBSEP "ns/op") in cnt ? median((base "/impl=gorilla") SUBSEP "ns/op") : 0
    c = ((base "/impl=coder") SUBSEP "ns/op") in cnt ? median((base "/impl=coder") SUBSEP "ns/op") : 0
    printf "| %s (ns/op) | %.0f | %s | %s | %s | %s |\n", base, o,
      g ? sprintf("%.0f", g) : "-", c ? sprintf("%.0f", c) : "-",
      g ? sprintf("%.2f", o / g) : "-", c ? sprintf("%.2f", o / c) : "-"
  }
}' "$OUT"
