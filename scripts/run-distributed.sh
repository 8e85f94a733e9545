#!/usr/bin/env bash
# Binôme distributed, without Docker: PostgreSQL and a real Kafka broker (as the tests start
# them), each service in its own process and database, and nginx as the gateway on :8000
# (configured by `binome proxy-config`: the docs of the whole API on /docs).
#   scripts/run-distributed.sh          (Ctrl-C stops the services; scripts/kafka.sh stop and
#                                         scripts/postgres.sh stop stop the infrastructure)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/venv.sh

source scripts/lib/infra.sh
source scripts/lib/nginx.sh

services=(enrollment matching sessions feedback reporting)
for svc in "${services[@]}"; do
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='binome_$svc'" \
    | grep -q 1 || psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE binome_$svc"
done

# A deployment refuses the public development secret: this run makes its own, kept in data/
# (never in the repository); `binome token` reads it from the same variable.
mkdir -p data
[ -s data/jwt-secret ] || .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(48))' >data/jwt-secret
export BINOME_JWT_SECRET=${BINOME_JWT_SECRET:-$(cat data/jwt-secret)}
export BINOME_BUS=kafka
export BINOME_KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP
export BINOME_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:$PG_PORT/binome_{service}"
mkdir -p data/logs
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
routes=()
port=8101
for svc in "${services[@]}"; do
  # Every caller reaches the services from nginx's address: nginx limits per address.
  BINOME_RATE_LIMIT_PER_ADDRESS=off \
    .venv/bin/binome serve --service "$svc" --port "$port" >"data/logs/$svc.log" 2>&1 &
  pids+=($!)
  routes+=(--route "$svc=http://127.0.0.1:$port")
  port=$((port + 1))
done
mkdir -p data/gateway
.venv/bin/binome proxy-config --out data/gateway --listen "127.0.0.1:${GATEWAY_PORT:-8000}" \
  --user "$(id -un)" "${routes[@]}" >/dev/null
"$TEST_NGINX" -p "$PWD/data/gateway/" -c nginx.conf -g 'daemon off;' >data/logs/gateway.log 2>&1 &
pids+=($!)
echo "Binôme distributed: gateway on http://127.0.0.1:${GATEWAY_PORT:-8000}, logs in data/logs/"
echo "Tokens: BINOME_JWT_SECRET=\$(cat data/jwt-secret) .venv/bin/binome token --org acme --role admin"
wait
