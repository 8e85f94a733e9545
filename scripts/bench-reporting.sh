#!/usr/bin/env bash
# Reporting at scale on PostgreSQL (started like the tests' one): N events projected through
# reporting's handlers, then a programme's KPIs, trends and dashboard beside the
# load-everything report; then the projection rebuilt from the same events on Kafka, in one
# run.
#   scripts/bench-reporting.sh [--events 1000000] [--queries 20]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/venv.sh
source scripts/lib/infra.sh
export BENCH_PG_URL=$PG_URL BENCH_KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP
exec .venv/bin/python -m tests.bench.reporting "$@"
