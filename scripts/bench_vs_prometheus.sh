#!/usr/bin/env bash
# docs/performance.md's side-by-side: nimifyd and Prometheus (Debian's
# /usr/bin/prometheus, --web.enable-remote-write-receiver, a fresh tmp TSDB)
# receive the same remote-write load from `nimify bench --remote-write`, one
# after the other, each twice, in one run:
#   fixed:  100k series, 1,000 samples per request, 2 connections, open loop
#           at 100k samples/s: the receiver's CPU per sample
#   max:    the same, closed loop: sustained samples/s
#   (with MEMORY=1) 1M series on nimifyd (and nimifyd-before), closed loop, or
#           open loop at MEMORY_RATE samples/s so that both hold the same
#           samples: resident bytes at 1M series (receiver_rss_bytes,
#           idle_rss_bytes before the load)
#   (with LATENCY=1) the alert path on nimifyd: the same load open loop at half
#           the closed-loop maximum this run measured (and at 10k samples/s, for
#           the floor), with MARKERS marker samples per second (default 20) that
#           fire `nimify_bench_marker > 0` into a webhook the bench serves
#           (`nimify bench --write-marker-config`): sample_to_handler_us, with
#           armed markers (series known before, fired from the crossing sample)
#           and with fresh ones (first samples, fired by the evaluation)
# Each receiver starts fresh; the first WARMUP seconds (series creation) are
# not counted. One JSON line per run goes to $OUT (default build/bench-vs-prometheus.jsonl).
#
#   bash scripts/bench_vs_prometheus.sh [BIN_DIR]    (default build/release/bin)
#   ROUNDS=0 LATENCY=1 HALF_RATE=200000 bash scripts/bench_vs_prometheus.sh BIN_DIR
#     only the alert path, at a given rate
#   NIMIFYD_BEFORE=path/to/old/nimifyd bash scripts/bench_vs_prometheus.sh BIN_DIR
#     adds that binary as receiver "nimifyd-before" to every round (and to the
#     alert-path runs): a change's before and after, paired in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/release/bin}
out=${OUT:-build/bench-vs-prometheus.jsonl}
seconds=${SECONDS_PER_RUN:-10}
warmup=${WARMUP:-5}
series=${SERIES:-100000}
prom=${PROMETHEUS:-/usr/bin/prometheus}
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
: >"$out"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_ready() {  # url
  for _ in $(seq 300); do
    curl -fsS "$1/-/ready" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { echo "receiver exited" >&2; return 1; }
    sleep 0.1
  done
  return 1
}

start_receiver() {  # name [nimifyd flags...] -> sets pid, url
  local port; port=$(free_port)
  url=http://127.0.0.1:$port
  case $1 in
    nimifyd|nimifyd-before)
      local daemon="$bin/nimifyd"
      [ "$1" = nimifyd-before ] && daemon=$NIMIFYD_BEFORE
      "$daemon" --rules.file=rules/runbook.rules.yml --web.listen-address="127.0.0.1:$port" \
        --log.level=warn "${@:2}" >"$work/nimifyd.log" 2>&1 &
      pid=$! ;;
    prometheus)
      rm -rf "$work/tsdb" && mkdir -p "$work/tsdb"
      printf 'global: {scrape_interval: 15s}\n' >"$work/prometheus.yml"
      "$prom" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
        --web.enable-remote-write-receiver --web.listen-address="127.0.0.1:$port" \
        --log.level=warn >"$work/prometheus.log" 2>&1 &
      pid=$! ;;
  esac
  wait_ready "$url"
}

stop_receiver() {
  kill -TERM "$pid"; wait "$pid" || true; pid=
}

run() {  # receiver mode series [extra bench args...]; mode: fixed, max or a rate
  local receiver=$1 mode=$2 n=$3; shift 3
  start_receiver "$receiver" "${receiver_flags[@]}"
  local idle_rss; idle_rss=$(awk '/VmRSS/ {print $2 * 1024}' "/proc/$pid/status")
  local rate=()
  [ "$mode" = fixed ] && rate=(--rate 100000)
  [[ "$mode" =~ ^[0-9]+$ ]] && rate=(--rate "$mode")
  local json
  json=$("$bin/nimify" bench --remote-write "$url/api/v1/write" --series "$n" --connections 2 \
    --samples-per-request 1000 --seconds "$seconds" --warmup "$warmup" --pid "$pid" "${rate[@]}" "$@")
  stop_receiver
  echo "{\"receiver\": \"$receiver\", \"load\": \"$mode\", \"idle_rss_bytes\": $idle_rss, \"bench\": $json}" | tee -a "$out"
}

receiver_flags=()
echo "# $(date -u +%FT%TZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg), $("$prom" --version 2>&1 | head -1)" | tee -a "$out"
for round in $(seq "${ROUNDS:-2}"); do
  receivers=(nimifyd prometheus)
  [ -n "${NIMIFYD_BEFORE:-}" ] && receivers=(nimifyd-before nimifyd prometheus)
  for receiver in "${receivers[@]}"; do
    run "$receiver" fixed "$series"
    run "$receiver" max "$series"
  done
done
if [ "${LATENCY:-0}" = 1 ]; then
  # Half of nimifyd's best closed-loop rate of this run (the issue's target
  # load), then a light 10k samples/s for the floor of the path.
  max=$(grep '"receiver": "nimifyd", "load": "max"' "$out" |
    sed 's/.*"samples_per_second_accepted": \([0-9.e+]*\).*/\1/' | sort -g | tail -1 || true)
  half=${HALF_RATE:-$(python3 -c "print(int(float('${max:-200000}') / 2))")}
  whport=$(free_port)
  "$bin/nimify" bench --write-marker-config "$work/marker" --webhook-listen "127.0.0.1:$whport"
  latency_receivers=(nimifyd)
  [ -n "${NIMIFYD_BEFORE:-}" ] && latency_receivers=(nimifyd-before nimifyd)
  # Armed markers (the marker series had a 0 sample in the warm-up, as a known
  # target's `up` has) and fresh ones (a series whose first sample crosses).
  for rate in "$half" 10000; do
    for markers in armed fresh; do
      fresh=()
      receiver_flags=(--config.file="$work/marker/nimify-bench-marker.yml")
      if [ "$markers" = fresh ]; then
        fresh=(--fresh-markers)
        receiver_flags=(--config.file="$work/marker/nimify-bench-marker-fresh.yml")
      fi
      for receiver in "${latency_receivers[@]}"; do
        run "$receiver" "$rate" "$series" --markers "${MARKERS:-20}" \
          --webhook-listen "127.0.0.1:$whport" "${fresh[@]}"
      done
    done
  done
  receiver_flags=()
fi
if [ "${MEMORY:-0}" = 1 ]; then
  warmup=10  # every one of the 1M series written at least once before counting
  memory_receivers=(nimifyd)
  [ -n "${NIMIFYD_BEFORE:-}" ] && memory_receivers=(nimifyd-before nimifyd)
  for receiver in "${memory_receivers[@]}"; do
    run "$receiver" "${MEMORY_RATE:-max}" 1000000
  done
fi
echo "# done, load average $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out"
