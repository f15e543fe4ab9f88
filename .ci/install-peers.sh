#!/usr/bin/env bash
# Installs the real peer servers the tests run against (see
# ../shared/reference/peers.md and test/harness/peers.ts), in ONE apt-get call,
# only when one of their binaries is missing. Idempotent: a second run does
# nothing. Exits non-zero when a binary is still missing afterwards.
set -euo pipefail

# Keep in sync with ALL_PEER_PACKAGES / PACKAGE_BINARIES in test/harness/peers.ts.
packages=(prometheus graphite-carbon graphite-web influxdb victoria-metrics nats-server postgresql wrk hyperfine netcat-openbsd collectd-core chromium)
binaries=(prometheus promtool carbon-cache whisper-fetch graphite-manage influxd victoria-metrics nats-server initdb pg_ctl pg_isready psql wrk hyperfine nc collectd chromium)

have() {
  local bin=$1
  if [ "$bin" = initdb ] || [ "$bin" = pg_ctl ]; then
    compgen -G "/usr/lib/postgresql/*/bin/$bin" > /dev/null && return 0
  fi
  command -v "$bin" > /dev/null 2>&1 && return 0
  local dir
  for dir in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
    [ -x "$dir/$bin" ] && return 0
  done
  return 1
}

missing_bins() {
  local bin out=()
  for bin in "${binaries[@]}"; do
    have "$bin" || out+=("$bin")
  done
  echo "${out[*]:-}"
}

missing=$(missing_bins)
if [ -z "$missing" ]; then
  echo "install-peers: all peer binaries present (${binaries[*]}); nothing to do"
  exit 0
fi
echo "install-peers: missing: $missing"

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo > /dev/null 2>&1 && sudo -n true 2> /dev/null; then
  sudo=(sudo)
else
  echo "install-peers: not root (and no passwordless sudo); run as root:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${packages[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
start=$(date +%s)
echo "install-peers: apt-get update"
"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 update
echo "install-peers: apt-get install -y --no-install-recommends ${packages[*]}"
"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${packages[@]}"
echo "install-peers: installed in $(( $(date +%s) - start )) s"

missing=$(missing_bins)
if [ -n "$missing" ]; then
  echo "install-peers: still missing after install: $missing" >&2
  exit 1
fi
echo "install-peers: all peer binaries present"
