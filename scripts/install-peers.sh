#!/usr/bin/env bash
# Installs every real peer the tests use: Debian packages listed in
# scripts/peers/*.apt (one per line, '#' comments), then runs each
# scripts/peers/*.sh hook (npm installs, go install of Pebble, …).
# Idempotent; safe to rerun. Needs root (or sudo) for apt.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi

mapfile -t pkgs < <(cat scripts/peers/*.apt 2>/dev/null | sed 's/#.*//' | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-peers: apt-get install ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

for hook in scripts/peers/*.sh; do
  [ -e "$hook" ] || continue
  echo "install-peers: $hook"
  bash "$hook"
done
echo "install-peers: done"
