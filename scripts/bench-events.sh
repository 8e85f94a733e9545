#!/usr/bin/env bash
# Event throughput on the real broker and PostgreSQL (started like the tests' ones):
# raw aiokafka consume loop (the ceiling), reporting's projections and matching's upserts through
# Binôme's consumer (events/s, end-to-end lag), the outbox relay, HRIS pushes of 1,000 and 10,000.
#   scripts/bench-events.sh [--events 20000] [--rate 1000]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/venv.sh
source scripts/lib/infra.sh
export BENCH_KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP BENCH_PG_URL=$PG_URL
exec .venv/bin/python -m tests.bench.events "$@"
