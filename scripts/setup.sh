#!/usr/bin/env bash
# Installs what Emergence and its tests need on Debian 12: the tools from Debian (as root, only what is
# missing), the Nix setting single-user root builds need, the npm packages from package-lock.json (which bring
# Node 24 for bin/emergence and every npm script), and the compiled CLI in dist/.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(runc nix-bin skopeo umoci docker-registry busybox-static aria2 opentracker mktorrent iproute2 containerd zstd curl attr iptables python3 systemd)

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

# Nix: Debian's nix-bin runs single-user as root, but Nix defaults `build-users-group` to `nixbld`, a group that
# nothing creates, so every build fails. Root builds need no build users: set the option empty in /etc/nix/nix.conf,
# adding one line to a file the user already has rather than replacing it, and only when nothing sets it yet.
configure_nix() {
  local conf=/etc/nix/nix.conf
  command -v nix-build >/dev/null || return 0
  [ "$(id -u)" -eq 0 ] || return 0
  if [ -f "$conf" ] && grep -Eq '^[[:space:]]*build-users-group[[:space:]]*=' "$conf"; then
    local group
    group=$(sed -nE 's/^[[:space:]]*build-users-group[[:space:]]*=[[:space:]]*([^[:space:]#]*).*/\1/p' "$conf" | tail -1)
    if [ -n "$group" ] && ! getent group "$group" >/dev/null; then
      echo "setup: $conf sets build-users-group = $group, but that group does not exist; create it with its build users, or set 'build-users-group =' for single-user root builds" >&2
      exit 1
    fi
    return 0
  fi
  mkdir -p "$(dirname "$conf")"
  printf '# Added by Emergence scripts/setup.sh: single-user Nix as root needs no build-users group.\nbuild-users-group =\n' >> "$conf"
  echo "setup: wrote 'build-users-group =' to $conf (single-user Nix as root)"
}
configure_nix

if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

# The CLI runs compiled JavaScript (dist/); npm start and npm test build again, incrementally.
npm run build --silent
echo "setup: built dist/ (bin/emergence is ready)"
