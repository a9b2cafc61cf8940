#!/usr/bin/env bash
# The README's run command: installs what is missing, builds, and runs the main job.
# It streams a runbook incident through the
# embedded engine with the bundled rules (examples/embed_runbook), printing each
# alert as it goes pending, fires and resolves; then it queries the incident data;
# then `nimify replay --plan` streams a runbook incident through the rules and the
# bundled responses (rules/runbook.responses.yml) and prints every decision
# (alert, notify, inhibited, step, escalate, verify) as a JSON line as it is made.
# Plan mode: nothing runs. Last, scripts/demo_daemon.sh starts nimifyd on the
# runbook's rules and responses (demo variants with seconds for minutes, dry-run),
# drives a short incident into it over HTTP and prints its decisions and alerts
# as they happen (about a minute), then stops it with SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh release
bin=build/release/bin
echo "== examples/embed_runbook: a runbook incident streamed through the engine"
"$bin/embed_runbook" rules/runbook.rules.yml
echo "== nimify test rules: the runbook rules' unit tests"
"$bin/nimify" test rules rules/runbook.test.yml
echo "== nimify query: 5xx ratio per instance during the incident (t=15m)"
"$bin/nimify" query \
  'sum by (instance) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (instance) (rate(http_requests_total[5m]))' \
  --input examples/incident.series --at 15m
echo "== nimify replay --plan: a runbook incident through the rules and their responses (nothing runs)"
# Plan mode needs no kubectl: a dry-run exec handler resolves its program only
# when a step really runs.
"$bin/nimify" replay --plan --rules rules/runbook.rules.yml --config rules/runbook.responses.yml \
  --input examples/runbook_incident.series --tail 15m
echo "== nimifyd: the daemon on the runbook's rules and responses, a live incident over HTTP (dry-run)"
bash scripts/demo_daemon.sh "$bin"
