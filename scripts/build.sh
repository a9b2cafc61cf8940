#!/usr/bin/env bash
# Configures and builds nimify into build/<preset-like name>.
#   scripts/build.sh [release|asan|tsan|debug|fuzz] [extra cmake args...]
# fuzz: clang 14 with libFuzzer, ASan and UBSan (tests/fuzz/run_libfuzzer.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-release}"
shift || true
args=(-G Ninja -DNIMIFY_WERROR="${NIMIFY_WERROR:-OFF}")
if command -v ccache >/dev/null; then
  args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Relative paths and no cwd in the hash: a fresh clone elsewhere reuses the cache.
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
  export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/nimify-ccache}"
fi
case "$kind" in
  release) args+=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  debug) args+=(-DCMAKE_BUILD_TYPE=Debug) ;;
  asan) args+=(-DCMAKE_BUILD_TYPE=Debug -DNIMIFY_SANITIZE=address,undefined -DNIMIFY_BUILD_BENCHMARKS=OFF) ;;
  fuzz) args+=(-DCMAKE_CXX_COMPILER="${NIMIFY_FUZZ_CXX:-clang++-14}" -DCMAKE_BUILD_TYPE=Debug
    "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -gline-tables-only" -DNIMIFY_SANITIZE=address,undefined
    -DNIMIFY_LIBFUZZER=ON -DNIMIFY_BUILD_BENCHMARKS=OFF -DNIMIFY_BUILD_EXAMPLES=OFF) ;;
  tsan) args+=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DNIMIFY_SANITIZE=thread -DNIMIFY_BUILD_BENCHMARKS=OFF) ;;
  *) echo "unknown build kind: $kind" >&2; exit 2 ;;
esac
# Arguments after the kind: cmake -D options, then `--target T...` to build only some targets.
cmake_args=()
targets=()
while (($#)); do
  if [[ "$1" == "--target" ]]; then shift; targets=("$@"); break; fi
  cmake_args+=("$1"); shift
done
cmake -S . -B "build/$kind" "${args[@]}" "${cmake_args[@]}" >/dev/null
if ((${#targets[@]})); then
  cmake --build "build/$kind" -j "${NIMIFY_JOBS:-$(nproc)}" --target "${targets[@]}"
else
  cmake --build "build/$kind" -j "${NIMIFY_JOBS:-$(nproc)}"
fi
