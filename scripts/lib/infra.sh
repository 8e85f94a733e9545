# Sourced by the scripts that need the real infrastructure: PostgreSQL and a Kafka broker on
# their usual ports (started unless they already answer), and their addresses exported:
# KAFKA_BOOTSTRAP (host:port) and PG_URL (SQLAlchemy URL of the server, no database).
export KAFKA_PORT=${KAFKA_PORT:-19092}
export PG_PORT=${PG_PORT:-55432}
scripts/postgres.sh start
scripts/kafka.sh start
export KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT
export PG_URL=postgresql+asyncpg://postgres@127.0.0.1:$PG_PORT
