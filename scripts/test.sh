#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine, as root: installs what it needs, builds, runs
# every test (unit tests, and the integration tests in throwaway namespaces), and ends with
# "N passed, N failed, N skipped".
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NETVAULT_SETUP_TESTS=1 . "$repo/scripts/setup.sh"
cd "$repo"
exec node scripts/run-tests.mjs "$@"
