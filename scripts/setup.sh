#!/usr/bin/env bash
# Installs every Debian 12 package nimify needs to build, test and run (idempotent).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config python3 curl
  libboost-dev rapidjson-dev libre2-dev libspdlog-dev libyaml-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libprotobuf-dev protobuf-compiler libsnappy-dev libssl-dev
  # clang 14 and its compiler-rt (libFuzzer, sanitizers) for the CI's fuzz stage.
  clang-14 libclang-rt-14-dev
  # libfaketime: daemon_clock_jump_test steps nimifyd's wall clock with it.
  faketime
)
if [[ "${NIMIFY_WITH_PEERS:-0}" == "1" ]]; then
  # The real Prometheus tools, for differential and end-to-end tests.
  PACKAGES+=(prometheus prometheus-alertmanager)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
