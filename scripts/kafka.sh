#!/usr/bin/env bash
# Start (or reuse) a real single-node Apache Kafka broker in KRaft mode, built from the jars
# Apache publishes on Maven Central (no Docker, no download site needed).
#   scripts/kafka.sh start   -> prints nothing on success; broker on 127.0.0.1:$KAFKA_PORT
#   scripts/kafka.sh stop
# Jars are cached in .cache/kafka (git-ignored); data and logs live under .cache/kafka/run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE="$ROOT/.cache/kafka"
RUN="$CACHE/run"
PORT=${KAFKA_PORT:-19092}
CPORT=$((PORT + 1))

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

fetch_jars() {
  if [ -f "$CACHE/libs/.complete" ]; then return; fi
  command -v mvn >/dev/null || { echo "kafka.sh: maven (mvn) is required" >&2; exit 1; }
  mkdir -p "$CACHE/libs"
  mvn -B -q -f "$ROOT/deploy/kafka/pom.xml" -Dmaven.repo.local="$CACHE/m2" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$CACHE/libs"
  touch "$CACHE/libs/.complete"
}

start() {
  if port_open "$PORT"; then return; fi
  fetch_jars
  rm -rf "$RUN" && mkdir -p "$RUN/data" "$RUN/logs"
  cat > "$RUN/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$RUN/data
num.partitions=6
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
PROPS
  cat > "$RUN/log4j2.properties" <<'LOG'
status = error
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = FILE
LOG
  local cp="$CACHE/libs/*"
  local cid
  cid=$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)
  java -cp "$cp" -Dlog4j2.configurationFile="$RUN/log4j2.properties" -Dkafka.logs.dir="$RUN/logs" \
    kafka.tools.StorageTool format -t "$cid" -c "$RUN/server.properties" >"$RUN/logs/format.log" 2>&1
  nohup java -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dkafka.logs.dir="$RUN/logs" -Dlog4j2.configurationFile="$RUN/log4j2.properties" \
    -cp "$cp" kafka.Kafka "$RUN/server.properties" >"$RUN/logs/stdout.log" 2>&1 &
  echo $! > "$RUN/pid"
  for _ in $(seq 1 120); do
    if port_open "$PORT"; then return; fi
    if ! kill -0 "$(cat "$RUN/pid")" 2>/dev/null; then
      echo "kafka.sh: broker exited; see $RUN/logs" >&2; tail -n 30 "$RUN/logs/stdout.log" >&2; exit 1
    fi
    sleep 0.5
  done
  echo "kafka.sh: broker did not open port $PORT within 60 s" >&2; exit 1
}

stop() {
  if [ -f "$RUN/pid" ]; then kill "$(cat "$RUN/pid")" 2>/dev/null || true; rm -f "$RUN/pid"; fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
