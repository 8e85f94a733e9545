#!/usr/bin/env bash
# The API under load: 50 concurrent clients mixing reads and writes against the distributed
# stack (five services on PostgreSQL and Kafka, nginx as the gateway), through the gateway and
# direct, in one run: requests/s, p50/p95/p99, errors.
#   scripts/bench-api.sh [--clients 50] [--seconds 15] [--employees 5000] [--workers 1]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/venv.sh
source scripts/lib/infra.sh
source scripts/lib/nginx.sh
source scripts/lib/vegeta.sh
export BENCH_KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP BENCH_PG_URL=$PG_URL
exec .venv/bin/python -m tests.bench.api "$@"
