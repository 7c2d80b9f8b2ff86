#!/usr/bin/env bash
# The project's whole test run: the same command README gives and .ci/run
# calls. Installs the real test peers, then checks formatting, vets (go vet,
# staticcheck), looks for known vulnerabilities (govulncheck), runs every
# test with the race detector, runs the heavy tests (GiB payloads, 10,000
# connections, 100,000 connection cycles) without it, and runs each fuzz
# target briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:$(go env GOPATH)/bin"

bash scripts/install-peers.sh

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted"; exit 1; fi

# Two Go modules: the library (.) and the tests module (tests/: end-to-end,
# interop and conformance tests and the comparisons with other WebSocket
# libraries, whose dependencies stay out of the library's go.mod). Each
# step runs over both.
modules=(. tests)
inmods() { for m in "${modules[@]}"; do (cd "$m" && "$@"); done; }

echo "== go vet"
inmods go vet ./...

echo "== staticcheck"
inmods go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# vuln.go.dev cannot be reached from this project's machines: by default
# the check uses the committed copy of the database's entries for the
# standard library and every module the two modules require
# (scripts/vulndb/db, refreshed by scripts/vulndb/gen.go, whose header
# says how; rerun it when a dependency is added). Where the network
# allows, GOVULNDB=https://vuln.go.dev checks against the live database.
echo "== govulncheck"
inmods go run golang.org/x/vuln/cmd/govulncheck@v1.9.0 -db "${GOVULNDB:-file://$PWD/scripts/vulndb/db}" ./...

echo "== go test -race"
inmods go test -race -count=1 -timeout 20m ./...

echo "== heavy tests (no -race)"
WSSPROXY_HEAVY=1 inmods go test -count=1 -timeout 20m -run 'Heavy' ./...

# Count-based budgets: a duration-based -fuzztime can fail with a bare
# "context deadline exceeded" at its end on Go 1.26 (golang/go#75804, fixed
# in Go 1.27), which would redden CI without any failing input.
echo "== fuzz (${FUZZTIME:=100000x} each)"
fuzzmod() {
  for pkg in $(go list ./...); do
    for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
      echo "-- $pkg $target"
      go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -timeout 5m "$pkg"
    done
  done
}
inmods fuzzmod
echo "== all tests passed"
