#!/usr/bin/env bash
# The daemon part of the README's run command: starts nimifyd on the runbook's
# rules and responses (the demo variants of rules/demo/, whose `for`, group_wait
# and escalation times are seconds instead of minutes; dry-run: steps are
# planned and logged, nothing runs), drives a short incident into it over HTTP
# with wall-clock timestamps, prints what it decides as it goes, then stops it
# with SIGTERM.
#
#   bash scripts/demo_daemon.sh [BIN_DIR]        (default build/release/bin)
#
# Timeline (seconds from the start; one sample per series per second):
#    0  everything up, nimify-api at deployment generation 7
#    3  a rollout (generation 8) and api-1 stops answering: ServiceDown pending,
#       firing 5s later; its responses are planned, the rollback among them
#       (a recent rollout); the Engineering Manager is paged 20s after firing
#   12  postgres down: DatabaseDown fires and pages the DBA at once (after: 0s)
#   40  api-1 and postgres are back: both alerts resolve
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/release/bin}
rules=rules/demo/runbook-demo.rules.yml
config=rules/demo/runbook-demo.responses.yml
state=build/demo-state
log=build/demo-nimifyd.log
rm -rf "$state" && mkdir -p "$state"

# The kubectl handler looks kubectl up on PATH when the config loads; dry-run
# never runs it, so a stand-in that refuses to run does where it is missing.
if ! command -v kubectl >/dev/null 2>&1; then
  stub=$(mktemp -d)
  printf '#!/bin/sh\necho "kubectl stand-in: not run" >&2\nexit 1\n' >"$stub/kubectl"
  chmod +x "$stub/kubectl"
  PATH="$stub:$PATH"
fi

"$bin/nimifyd" --config.file="$config" --rules.file="$rules" --dry-run \
  --storage.state-dir="$state" --web.listen-address=127.0.0.1:0 >"$log" 2>&1 &
pid=$!
stop() {
  if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  [ -z "${stub:-}" ] || rm -rf "$stub"
}
trap stop EXIT

# The port nimifyd picked is in its log (port=NNNN).
port=
for _ in $(seq 100); do
  port=$(grep -oE 'port=[0-9]+' "$log" | head -1 | cut -d= -f2 || true)
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "nimifyd exited at start" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { cat "$log"; echo "nimifyd did not report its port" >&2; exit 1; }
url=http://127.0.0.1:$port
for _ in $(seq 100); do
  curl -fsS "$url/-/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$url/-/ready" >/dev/null
echo "nimifyd ready on $url (pid $pid, log $log, state $state)"
echo "dry-run: every step below is planned and logged, nothing runs; times are the wall clock"

# The decisions of the responder and the alert transitions, as they are logged.
shown=0
show_log() {
  local lines
  lines=$(wc -l <"$log")
  if [ "$lines" -gt "$shown" ]; then
    sed -n "$((shown + 1)),${lines}p" "$log" |
      grep -E 'msg=decision' |
      sed -E -e 's/^ts=[0-9-]+T([0-9:]+)\.[0-9]+Z level=[a-z]+ component=responder msg=decision /\1 /' \
        -e 's/ [a-z_]+=""//g' -e 's/ (fingerprint=[0-9a-f]+|dry_run=(true|false))//g' |
      cut -c1-200 || true
    shown=$lines
  fi
}
show_alerts() {
  echo "-- GET /api/v2/alerts at +${1}s:"
  curl -fsS "$url/api/v2/alerts" | python3 -c '
import json, sys
alerts = json.load(sys.stdin)
for a in alerts:
    l = a["labels"]
    print("   ", l.get("alertname"), l.get("instance"), a["status"]["state"],
          "since", a["startsAt"], "receivers", [r["name"] for r in a["receivers"]])
if not alerts:
    print("    (none)")'
}

for t in $(seq 0 47); do
  api1=1; pg=1; gen=7
  [ "$t" -ge 3 ] && gen=8
  [ "$t" -ge 3 ] && [ "$t" -lt 40 ] && api1=0
  [ "$t" -ge 12 ] && [ "$t" -lt 40 ] && pg=0
  case $t in 3) echo "== +3s: rollout to generation 8; api-1 stops answering" ;;
    12) echo "== +12s: postgres goes down" ;;
    40) echo "== +40s: api-1 and postgres are back" ;; esac
  # No timestamps: nimifyd stamps them with its wall clock.
  curl -fsS --data-binary @- "$url/api/v1/import/prometheus" <<METRICS
up{job="nimify-api",instance="api-0:8000"} 1
up{job="nimify-api",instance="api-1:8000"} $api1
up{job="postgres",instance="pg-0:9187"} $pg
kube_deployment_status_observed_generation{namespace="nimify-system",deployment="nimify-api"} $gen
kube_deployment_spec_replicas{namespace="nimify-system",deployment="nimify-api"} 3
METRICS
  show_log
  case $t in 10|25|38|47) show_alerts "$t" ;; esac
  sleep 1
done
echo "-- GET /api/v1/alerts (pending and firing; resolved ones are gone):"
curl -fsS "$url/api/v1/alerts"; echo
echo "-- nimify_alerts and responder metrics:"
curl -fsS "$url/metrics" | grep -E '^nimify_(alerts|responder_(steps|escalations|notifications))' | head -20 || true
echo "== SIGTERM"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
show_log
trap - EXIT
[ -z "${stub:-}" ] || rm -rf "$stub"
echo "nimifyd exited with $rc"
exit "$rc"
