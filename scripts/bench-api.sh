#!/usr/bin/env bash
# The API under load: 50 concurrent clients mixing reads and writes against the distributed
# stack (five services on PostgreSQL and Kafka, and the gateway), through the gateway and
# direct, in one run: requests/s, p50/p95/p99, errors.
#   scripts/bench-api.sh [--clients 50] [--seconds 15] [--employees 5000]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/venv.sh
export KAFKA_PORT=${KAFKA_PORT:-19092}
export PG_PORT=${PG_PORT:-55432}
scripts/postgres.sh start
scripts/kafka.sh start
export BENCH_KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT
export BENCH_PG_URL=postgresql+asyncpg://postgres@127.0.0.1:$PG_PORT
exec .venv/bin/python -m tests.bench.api "$@"
