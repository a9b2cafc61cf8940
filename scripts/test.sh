#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (the README's test command).
set -euo pipefail
cd "$(dirname "$0")/.."
NIMIFY_WITH_PEERS=1 bash scripts/setup.sh
bash scripts/build.sh "${1:-release}"
cd "build/${1:-release}"
ctest --output-on-failure -j "$(nproc)" --timeout 600
