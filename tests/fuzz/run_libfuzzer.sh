#!/usr/bin/env bash
# Runs every libFuzzer target of a NIMIFY_LIBFUZZER=ON build for a bounded time
# each, from the assembled seed corpus, with a fresh seed per run (printed).
#
#   tests/fuzz/run_libfuzzer.sh BUILD_DIR [SECONDS_PER_TARGET] [TARGET...]
#
# NIMIFY_FUZZ_SEED=N replays a run's seeds (target i uses N+i); NIMIFY_FUZZ_JOBS=2
# runs two targets at a time; NIMIFY_FUZZ_TIMEOUT=S sets libFuzzer's per-input
# wall-clock timeout (default 30 s; raise it for campaigns at a low priority,
# where a starved fuzzer's input can sit past 30 s without being slow). The
# working corpus grows in BUILD_DIR/fuzz/<target>/corpus across runs. A crash,
# leak, timeout or out-of-memory fails the run and prints the reproducer
# (base64) and the command that replays it; to keep it as a regression, copy
# it to tests/fuzz/regressions/<target>/.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:?usage: run_libfuzzer.sh BUILD_DIR [SECONDS] [TARGET...]}"
build="$(cd "$build" && pwd)"
seconds="${2:-50}"
shift 2 2>/dev/null || shift $#
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(promql_parser_fuzz rule_file_fuzz template_fuzz ingest_text_fuzz ingest_remote_write_fuzz
    ingest_json_lines_fuzz series_notation_fuzz promtool_test_fuzz response_config_fuzz daemon_api_fuzz)
fi
work="$build/fuzz"
mkdir -p "$work"
rm -rf "$work/seeds"
python3 "$here/assemble_seeds.py" "$work/seeds" ${NIMIFY_SHARED_DIR:+--shared "$NIMIFY_SHARED_DIR"} | tail -n 20

dict_for() {
  case "$1" in
    promql_parser_fuzz) echo "$here/dict/promql.dict" ;;
    template_fuzz) echo "$here/dict/template.dict" ;;
    rule_file_fuzz | promtool_test_fuzz | response_config_fuzz) echo "$here/dict/yaml.dict" ;;
    *) echo "" ;;
  esac
}

base_seed="${NIMIFY_FUZZ_SEED:-$(( $(date +%s) % 1000000000 ))}"
echo "fuzz: ${#targets[@]} target(s), ${seconds}s each, base seed $base_seed" \
  "(replay with NIMIFY_FUZZ_SEED=$base_seed)"

run_one() {
  local i="$1" t="$2"
  local bin="$build/tests/fuzz/$t" seed=$((base_seed + i)) dir="$work/$t"
  local log="$dir/last.log" dict
  dict="$(dict_for "$t")"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  if [[ ! -x "$bin" ]]; then
    echo "fuzz: $t: $bin not built" >"$log"
    return 1
  fi
  local args=(-seed="$seed" -max_total_time="$seconds" -timeout="${NIMIFY_FUZZ_TIMEOUT:-30}" -rss_limit_mb=2560
    -malloc_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/artifacts/")
  [[ -n "$dict" ]] && args+=(-dict="$dict")
  local seeds_dir="$work/seeds/$t"
  mkdir -p "$seeds_dir"
  (cd "$dir" && "$bin" "${args[@]}" "$dir/corpus" "$seeds_dir") >"$log" 2>&1
}

report() {
  local i="$1" t="$2" rc="$3" dir="$work/$2"
  local log="$dir/last.log"
  local execs cov
  execs="$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}')"
  cov="$(grep -E '^#[0-9]+' "$log" | grep -o 'cov: [0-9]* ft: [0-9]*' | tail -n 1)"
  echo "fuzz: $t seed=$((base_seed + i)) execs=${execs:-?} ${cov:-} corpus=$(ls "$dir/corpus" | wc -l) rc=$rc"
  if ((rc != 0)); then
    echo "fuzz: $t FAILED; the end of its log:"
    tail -n 60 "$log" | sed 's/^/    /'
    local a
    for a in "$dir"/artifacts/*; do
      [[ -f "$a" ]] || continue
      echo "fuzz: reproducer $a ($(wc -c <"$a") bytes), base64:"
      base64 -w 100 "$a" | head -n 40 | sed 's/^/    /'
      echo "fuzz: replay: $build/tests/fuzz/$t $a"
      echo "fuzz: keep it: cp $a $here/regressions/$t/"
    done
  fi
}

status=0
jobs_max="${NIMIFY_FUZZ_JOBS:-1}"
i=0
pids=()
names=()
idx=()
flush() {
  local k rc
  for k in "${!pids[@]}"; do
    wait "${pids[$k]}"
    rc=$?
    report "${idx[$k]}" "${names[$k]}" "$rc"
    ((rc != 0)) && status=1
  done
  pids=() names=() idx=()
}
for t in "${targets[@]}"; do
  rm -f "$work/$t/artifacts/"* 2>/dev/null
  run_one "$i" "$t" &
  pids+=($!) names+=("$t") idx+=("$i")
  i=$((i + 1))
  ((${#pids[@]} >= jobs_max)) && flush
done
flush
if ((status != 0)); then
  echo "fuzz: FAILED (base seed $base_seed)"
else
  echo "fuzz: all ${#targets[@]} target(s) ran ${seconds}s without a finding (base seed $base_seed)"
fi
exit "$status"
