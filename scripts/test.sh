#!/usr/bin/env bash
# The README's test command. On a fresh machine it creates the virtual environment, installs
# Binôme, provisions PostgreSQL (Debian's packages) and a real Apache Kafka broker (Maven
# Central's jars) unless they already answer, Debian's Chromium for the browser tests, nginx
# (the distributed mode's gateway) and Prometheus's promtool for the monitoring files, checks
# lint and types, then runs the whole suite, tier by tier.
#   scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/venv.sh

source scripts/lib/infra.sh
source scripts/lib/browser.sh
source scripts/lib/nginx.sh
source scripts/lib/promtool.sh
source scripts/lib/pdf.sh
source scripts/lib/kustomize.sh
source scripts/lib/node-tools.sh
export TEST_KAFKA_BOOTSTRAP=${TEST_KAFKA_BOOTSTRAP:-$KAFKA_BOOTSTRAP}
export TEST_PG_URL=${TEST_PG_URL:-$PG_URL}

.venv/bin/ruff check --quiet .
.venv/bin/mypy shared services
.venv/bin/lint-imports --no-cache >/dev/null || .venv/bin/lint-imports --no-cache
# Arguments naming tests: one pytest run of them. Otherwise the unit and api tiers on both
# cores (pytest-xdist: in-process apps and SQLite, each test its own folder), then the infra
# and browser tiers one test at a time (brokers they stop and start, a browser: timing they
# measure wants the machine to themselves). Both run even if the first fails.
for arg in "$@"; do
  case "$arg" in tests*) exec .venv/bin/python -m pytest "$@" ;; esac
done
status=0
tier() {  # a tier's failure is kept; "no test selected" (5, after -k) is not one
  .venv/bin/python -m pytest "$@" || { local rc=$?; [ $rc -eq 5 ] || status=$rc; }
}
tier -n "${TEST_WORKERS:-2}" tests/unit tests/api "$@"
tier tests/infra tests/browser "$@"
exit $status
