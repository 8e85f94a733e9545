#!/usr/bin/env bash
# The README's test command. On a fresh machine it creates the virtual environment, installs
# Binôme, provisions PostgreSQL (Debian's packages) and a real Apache Kafka broker (Maven
# Central's jars) unless they already answer, checks lint and types, then runs the whole suite.
#   scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/venv.sh

export KAFKA_PORT=${KAFKA_PORT:-19092}
export PG_PORT=${PG_PORT:-55432}
scripts/postgres.sh start
scripts/kafka.sh start
export TEST_KAFKA_BOOTSTRAP=${TEST_KAFKA_BOOTSTRAP:-127.0.0.1:$KAFKA_PORT}
export TEST_PG_URL=${TEST_PG_URL:-postgresql+asyncpg://postgres@127.0.0.1:$PG_PORT}

.venv/bin/ruff check --quiet .
.venv/bin/mypy shared services
exec .venv/bin/python -m pytest "$@"
