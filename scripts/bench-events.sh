#!/usr/bin/env bash
# Event throughput on the real broker and PostgreSQL (started like the tests' ones):
# raw aiokafka consume loop (the ceiling), reporting's projections and matching's upserts through
# Binôme's consumer (events/s, end-to-end lag), the outbox relay, HRIS pushes of 1,000 and 10,000.
#   scripts/bench-events.sh [--events 20000] [--rate 1000]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/venv.sh
export KAFKA_PORT=${KAFKA_PORT:-19092}
export PG_PORT=${PG_PORT:-55432}
scripts/postgres.sh start
scripts/kafka.sh start
export BENCH_KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT
export BENCH_PG_URL=postgresql+asyncpg://postgres@127.0.0.1:$PG_PORT
exec .venv/bin/python -m tests.bench.events "$@"
