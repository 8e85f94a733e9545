#!/usr/bin/env bash
# The README's test command. On a fresh machine it creates the virtual environment, installs
# Binôme, provisions PostgreSQL (Debian's packages) and a real Apache Kafka broker (Maven
# Central's jars) unless they already answer, then runs the whole suite.
#   scripts/test.sh [pytest args]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# Reinstall only when the dependencies changed.
stamp=.venv/.binome-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  touch "$stamp"
fi

export KAFKA_PORT=${KAFKA_PORT:-19092}
export PG_PORT=${PG_PORT:-55432}
scripts/postgres.sh start
scripts/kafka.sh start
export BINOME_TEST_KAFKA=${BINOME_TEST_KAFKA:-127.0.0.1:$KAFKA_PORT}
export BINOME_TEST_PG=${BINOME_TEST_PG:-postgresql+asyncpg://postgres@127.0.0.1:$PG_PORT}

exec .venv/bin/python -m pytest "$@"
