#!/usr/bin/env bash
# Binôme distributed, without Docker: PostgreSQL and a real Kafka broker (as the tests start
# them), each service in its own process and database, and the gateway on :8000.
#   scripts/run-distributed.sh          (Ctrl-C stops the services; scripts/kafka.sh stop and
#                                         scripts/postgres.sh stop stop the infrastructure)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/venv.sh

source scripts/lib/infra.sh

services=(enrollment matching sessions feedback reporting)
for svc in "${services[@]}"; do
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='binome_$svc'" \
    | grep -q 1 || psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE binome_$svc"
done

export BINOME_BUS=kafka
export BINOME_KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP
export BINOME_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:$PG_PORT/binome_{service}"
mkdir -p data/logs
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
routes=()
port=8101
for svc in "${services[@]}"; do
  .venv/bin/binome serve --service "$svc" --port "$port" >"data/logs/$svc.log" 2>&1 &
  pids+=($!)
  routes+=(--route "$svc=http://127.0.0.1:$port")
  port=$((port + 1))
done
.venv/bin/binome gateway --port "${GATEWAY_PORT:-8000}" "${routes[@]}" &
pids+=($!)
echo "Binôme distributed: gateway on http://127.0.0.1:${GATEWAY_PORT:-8000}, logs in data/logs/"
wait
