#!/usr/bin/env bash
# Installs the Node.js peers of tests/interop (the `ws` package, version
# pinned in tests/interop/node/package.json and package-lock.json).
# Idempotent: does nothing when node_modules matches the lock file.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  # Only on a machine without Node.js: never install Debian's nodejs over an
  # existing node (e.g. nodesource's, which bundles npm).
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  echo "node.sh: node/npm missing, installing Debian's nodejs and npm"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

dir=tests/interop/node
# npm ci writes node_modules/.package-lock.json; when it equals the lock
# file's packages, the install is current.
if [ -f "$dir/node_modules/.package-lock.json" ] &&
  node -e '
    const a = require(process.argv[1]), b = require(process.argv[2]);
    const strip = (p) => JSON.stringify(Object.fromEntries(Object.entries(p.packages).filter(([k]) => k !== "")));
    process.exit(strip(a) === strip(b) ? 0 : 1);
  ' "$PWD/$dir/package-lock.json" "$PWD/$dir/node_modules/.package-lock.json"; then
  echo "node.sh: $dir/node_modules is current"
  exit 0
fi
echo "node.sh: npm ci in $dir"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
