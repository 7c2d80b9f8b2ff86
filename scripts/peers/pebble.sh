#!/usr/bin/env bash
# Pebble, the ACME test server, and pebble-challtestsrv (its DNS for test
# names), used by the certs ACME tests. go install is idempotent; skip the
# build when the right version is already installed.
set -euo pipefail
version=v2.10.1
bin="$(go env GOPATH)/bin"
for cmd in pebble pebble-challtestsrv; do
  if [ -x "$bin/$cmd" ] && go version -m "$bin/$cmd" 2>/dev/null | grep -q "github.com/letsencrypt/pebble/v2[[:space:]]*$version"; then
    continue
  fi
  echo "pebble.sh: go install $cmd@$version"
  go install "github.com/letsencrypt/pebble/v2/cmd/$cmd@$version"
done
