#!/usr/bin/env bash
# Installs the build in $1 into a temporary prefix and builds + runs the consumer.
set -euo pipefail
build="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
prefix="$(mktemp -d)"
trap 'rm -rf "$prefix"' EXIT
cmake --install "$root/$build" --prefix "$prefix" >/dev/null
cmake -S "$root/tests/install" -B "$prefix/consumer-build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/consumer-build" >/dev/null
LD_LIBRARY_PATH="$prefix/lib:$prefix/lib/x86_64-linux-gnu" "$prefix/consumer-build/consumer"
