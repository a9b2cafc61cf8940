#!/usr/bin/env bash
# The README's run command: installs what is missing, builds, and runs the main job.
# Until the daemon exists the main job streams a runbook incident through the
# embedded engine with the bundled rules (examples/embed_runbook), printing each
# alert as it goes pending, fires and resolves; then it queries the incident data.
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
