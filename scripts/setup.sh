#!/usr/bin/env bash
# Installs what Emergence and its tests need on Debian 12: the tools from Debian (as root, only what is
# missing) and the npm packages from package-lock.json (which bring Node 24 for every npm script).
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(runc nix-bin skopeo umoci docker-registry busybox-static aria2 opentracker mktorrent iproute2 containerd zstd curl)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
