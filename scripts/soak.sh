#!/usr/bin/env bash
# Soak (issue 11): nimifyd on the bundled runbook rules and responses (the demo
# variants: `for`, group_wait and escalations in seconds, so alerts fire,
# escalate and resolve many times; --dry-run, nothing leaves the machine) under
# steady remote-write load from `nimify bench --remote-write --rate`, plus a
# client that every 10 s pushes the runbook's series (ServiceDown and
# DatabaseDown flap with a 2- and 3-minute period, so they fire, notify,
# escalate and resolve all along), queries, and every 30 s adds a silence and
# an acknowledgement (of alerts that do not fire) and deletes older ones.
# Every 10 s it samples nimifyd's VmRSS, open fds, threads and /metrics error
# counters into a CSV, and at the end fails when, after the warm-up:
#   - open fds or threads grew at all (median of the last minute above the
#     median of the first minute after the warm-up),
#   - RSS grew by more than RSS_TOLERANCE_MIB (default 16) over the measured
#     part, from a least-squares slope over every sample after the warm-up,
#   - any request failed, other than the documented backpressure (429/503 with
#     Retry-After) of the remote-write load,
#   - a rule evaluation, handler call or state write failed, or nimifyd exited.
# Why 16 MiB: the engine keeps the history the rules need (the runbook's
# largest range, 15m, plus the 5m lookback: 20 minutes), so the store fills for
# 20 minutes before it is flat; the default warm-up (22 min) waits for that.
# After it, what moves RSS is glibc's arenas and the allocator's fragmentation
# (a few MiB up and down); 16 MiB over 30 minutes is a leak of ~0.4 KiB per
# remote-write request at the default rate, or ~9 KiB per side request.
# The short CI run (WARMUP=60 DURATION=180) cannot reach the full history, so it
# sends less (SERIES=500, RATE=500: at most a few MiB of samples in 3 minutes).
#
#   bash scripts/soak.sh [BIN_DIR]          (default build/release/bin)
#   DURATION=1800 WARMUP=1320 SERIES=20000 RATE=5000 OUT=build/soak.csv  (the defaults)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/release/bin}
duration=${DURATION:-1800}
warmup=${WARMUP:-1320}
series=${SERIES:-20000}
rate=${RATE:-5000}
tolerance_mib=${RSS_TOLERANCE_MIB:-16}
out=${OUT:-build/soak.csv}
rules=rules/demo/runbook-demo.rules.yml
config=rules/demo/runbook-demo.responses.yml
work=$(mktemp -d)
pid=
bench_pid=
cleanup() {
  if [ -n "$bench_pid" ] && kill -0 "$bench_pid" 2>/dev/null; then kill -TERM "$bench_pid" || true; fi
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$(dirname "$out")"

# The kubectl handler looks kubectl up on PATH when the config loads; dry-run
# never runs it (as in scripts/demo_daemon.sh).
if ! command -v kubectl >/dev/null 2>&1; then
  mkdir -p "$work/stub"
  printf '#!/bin/sh\necho "kubectl stand-in: not run" >&2\nexit 1\n' >"$work/stub/kubectl"
  chmod +x "$work/stub/kubectl"
  PATH="$work/stub:$PATH"
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
"$bin/nimifyd" --config.file="$config" --rules.file="$rules" --dry-run \
  --storage.state-dir="$work/state" --web.listen-address="127.0.0.1:$port" \
  --log.level=warn >"$work/nimifyd.log" 2>&1 &
pid=$!
for _ in $(seq 300); do
  curl -fsS "$url/-/ready" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/nimifyd.log"; echo "soak: nimifyd exited at start" >&2; exit 1; }
  sleep 0.1
done
curl -fsS "$url/-/ready" >/dev/null
total=$((warmup + duration))
echo "soak: nimifyd pid $pid on $url; ${warmup}s warm-up + ${duration}s measured;" \
  "remote-write $series series at $rate samples/s; CSV $out"

"$bin/nimify" bench --remote-write "$url/api/v1/write" --series "$series" --connections 1 \
  --samples-per-request 500 --rate "$rate" --seconds "$total" >"$work/bench.json" 2>"$work/bench.err" &
bench_pid=$!

status=0
python3 - "$url" "$pid" "$warmup" "$duration" "$tolerance_mib" "$out" "$bench_pid" <<'PY' || status=$?
import csv, json, os, statistics, sys, time, urllib.error, urllib.request

url, pid, warmup, duration, tol_mib, out, bench_pid = sys.argv[1:]
pid, warmup, duration, tol_mib, bench_pid = int(pid), int(warmup), int(duration), float(tol_mib), int(bench_pid)
failures = []        # side requests that did not succeed
requests = 0

def call(method, path, body=None, ctype="application/json"):
    global requests
    requests += 1
    req = urllib.request.Request(url + path, data=body.encode() if body is not None else None,
                                 method=method)
    if body is not None:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        failures.append(f"{method} {path}: {e.code} {e.read()[:200]!r}")
    except Exception as e:  # timeouts, resets
        failures.append(f"{method} {path}: {e}")
    return 0, ""

def proc(name):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return -1

COUNTERS = ["nimify_rule_evaluation_failures_total", "nimify_handler_failures_total",
            "nimify_state_write_failures_total", "nimify_ingest_requests_throttled_total",
            "nimify_engine_samples_refused_total", "nimify_rule_evaluations_total",
            "nimify_responder_escalations_total", "nimify_responder_audit_records_total",
            "nimify_engine_series", "nimify_engine_memory_bytes"]

def metrics():
    st, text = call("GET", "/metrics")
    vals = {}
    for line in text.splitlines():
        name, _, v = line.partition(" ")
        if name in COUNTERS:
            vals[name] = float(v)
    return vals

def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))

start = time.monotonic()
rows, ack_ids, silence_ids = [], [], []
tick = 0
with open(out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["elapsed_s", "rss_kib", "fds", "threads"] + COUNTERS)
    while True:
        elapsed = time.monotonic() - start
        if elapsed > warmup + duration:
            break
        try:
            os.kill(pid, 0)
        except OSError:
            failures.append("nimifyd exited")
            break
        # The runbook's series: ServiceDown flaps every minute, DatabaseDown every 90 s.
        api_up = 0 if (tick // 6) % 2 else 1
        db_up = 0 if (tick // 9) % 2 else 1
        body = "".join(
            f'up{{job="nimify-api",instance="api-{i}:8000"}} {api_up if i == 1 else 1}\n'
            for i in range(1, 4))
        body += f'up{{job="postgres",instance="postgres:5432"}} {db_up}\n'
        body += 'nvidia_gpu_count{instance="gpu-node-1"} 4\n'
        call("POST", "/api/v1/import/prometheus", body, "text/plain")
        call("GET", "/api/v1/query?query=" + urllib.request.quote('sum by (job) (up)'))
        call("GET", "/api/v1/query_range?query=up&start=%d&end=%d&step=15" % (time.time() - 300, time.time()))
        call("GET", "/api/v2/alerts")
        if tick % 3 == 0:   # every 30 s: a silence for 10 minutes and an acknowledgement
            # Both cover alerts that never fire, so ServiceDown and DatabaseDown
            # still notify, escalate and resolve.
            now = time.time()
            st, b = call("POST", "/api/v2/silences", json.dumps({
                "matchers": [{"name": "alertname", "value": "GPUUnavailable", "isRegex": False}],
                "startsAt": iso(now), "endsAt": iso(now + 600), "createdBy": "soak", "comment": "s"}))
            if st == 200:
                silence_ids.append(json.loads(b)["silenceID"])
            st, b = call("POST", "/api/v2/acks", json.dumps({
                "matchers": ['alertname="ServiceDown"', 'instance="api-2:8000"'], "createdBy": "soak", "comment": "a"}))
            if st == 200:
                ack_ids.append(json.loads(b).get("ackID") or json.loads(b).get("id"))
            call("GET", "/api/v2/silences")
            call("GET", "/api/v1/rules")
        if tick % 6 == 5:   # every minute: delete what was added a minute ago (still active)
            while len(silence_ids) > 2:
                call("DELETE", "/api/v2/silence/" + silence_ids.pop(0))
            while len(ack_ids) > 2:
                a = ack_ids.pop(0)
                if a:
                    call("DELETE", "/api/v2/ack/" + a)
        m = metrics()
        row = [round(elapsed, 1), proc("VmRSS"), len(os.listdir(f"/proc/{pid}/fd")), proc("Threads")]
        row += [m.get(c, "") for c in COUNTERS]
        rows.append(row)
        w.writerow(row)
        f.flush()
        tick += 1
        time.sleep(max(0.0, start + tick * 10 - time.monotonic()))

bad = list(failures)
after = [r for r in rows if r[0] >= warmup]
print(f"soak: {len(rows)} samples, {requests} side requests, {len(failures)} failed")
if len(after) >= 6:
    first, last = after[:6], after[-6:]
    for col, name in ((2, "fds"), (3, "threads")):
        a, b = statistics.median(r[col] for r in first), statistics.median(r[col] for r in last)
        print(f"soak: {name}: first minute after warm-up {a:g}, last minute {b:g}, max {max(r[col] for r in after)}")
        if b > a:
            bad.append(f"{name} grew from {a:g} to {b:g}")
    xs = [r[0] for r in after]
    ys = [r[1] / 1024 for r in after]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / max(1e-9, sum((x - mx) ** 2 for x in xs))
    growth = slope * (xs[-1] - xs[0])
    print(f"soak: RSS first {ys[0]:.1f} MiB, last {ys[-1]:.1f} MiB, min {min(ys):.1f}, max {max(ys):.1f};"
          f" fitted slope {slope * 3600:.2f} MiB/h = {growth:+.2f} MiB over the measured {xs[-1] - xs[0]:.0f} s"
          f" (tolerance {tol_mib:g} MiB)")
    if growth > tol_mib:
        bad.append(f"RSS grew {growth:.1f} MiB (> {tol_mib:g} MiB)")
else:
    bad.append("too few samples after the warm-up")
if rows:
    for c in ("nimify_rule_evaluation_failures_total", "nimify_handler_failures_total",
              "nimify_state_write_failures_total"):
        v = rows[-1][4 + COUNTERS.index(c)]
        if v not in ("", 0, 0.0):
            bad.append(f"{c} = {v}")
    last = dict(zip(COUNTERS, rows[-1][4:]))
    print("soak: at the end: " + ", ".join(f"{k.replace('nimify_', '')}={v:g}" for k, v in last.items() if v != ""))
for b in bad[:20]:
    print("soak: FAIL: " + b)
sys.exit(1 if bad else 0)
PY

# The load generator's own tally: only backpressure (429/503) is allowed.
wait "$bench_pid" || true
bench_pid=
if ! python3 - "$work/bench.json" <<'PY'; then status=1; fi
import json, sys
try:
    b = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"soak: FAIL: no result from nimify bench ({e})"); sys.exit(1)
errors = b.get("errors", {})
other = {k: v for k, v in errors.items() if k not in ("429", "503")}
print(f"soak: remote-write: {b['requests']} requests, {b['samples_sent']} samples sent,"
      f" {b['samples_accepted']} accepted, p99 {b['request_latency_ms']['p99']} ms, errors {errors}")
if other:
    print(f"soak: FAIL: remote-write errors other than backpressure: {other} {b.get('last_error', '')}")
    sys.exit(1)
PY
if ! kill -0 "$pid" 2>/dev/null; then echo "soak: FAIL: nimifyd exited"; status=1; fi
grep -E 'level=(error|fatal)' "$work/nimifyd.log" | head -5 || true
if [ "$status" -ne 0 ]; then
  echo "soak: FAILED (samples in $out)"; tail -20 "$work/nimifyd.log"; exit 1
fi
echo "soak: passed (samples in $out)"
