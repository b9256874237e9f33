#!/usr/bin/env bash
# The main job on a fresh Debian machine, as root: installs what it needs, builds, and runs
# `netvault demo` (the killswitch in throwaway namespaces, removed again at the end).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$repo/scripts/setup.sh"
exec node "$repo/packages/cli/dist/netvault.js" demo "$@"
