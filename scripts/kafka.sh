#!/usr/bin/env bash
# A real Apache Kafka (KRaft) from the jars Apache publishes on Maven Central: no Docker, no
# download site. One broker by default; KAFKA_NODES=3 makes a three-broker cluster (each node
# broker and controller, internal topics replicated 3 times, min.insync.replicas 2).
#
#   scripts/kafka.sh start          start every node that is not running; a node keeps its data
#                                   across stop/start (only a new node is formatted)
#   scripts/kafka.sh stop [N]       stop every node (or node N) cleanly, waiting for it to exit
#   scripts/kafka.sh kill N         SIGKILL node N (fault tests)
#   scripts/kafka.sh start-node N   start node N alone (after a stop or kill)
#   scripts/kafka.sh wipe           kill every node and delete the data: the next start is a new
#                                   cluster
#   scripts/kafka.sh bootstrap      print the bootstrap servers
#   scripts/kafka.sh consumer-groups|topics ARGS...
#                                   Kafka's own ops tools against this cluster, e.g.
#                                   scripts/kafka.sh consumer-groups --describe --group binome-reporting
#
# Environment: KAFKA_PORT (19092; node N listens on KAFKA_PORT + 2(N-1), its controller on the
# next port), KAFKA_NODES (1), KAFKA_RUN (.cache/kafka/run: data, logs, pids), KAFKA_HEAP (512m).
# Jars are cached in .cache/kafka/libs (git-ignored), fetched again when deploy/kafka/pom.xml
# changes.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE="$ROOT/.cache/kafka"
RUN=${KAFKA_RUN:-$CACHE/run}
PORT=${KAFKA_PORT:-19092}
NODES=${KAFKA_NODES:-1}
HEAP=${KAFKA_HEAP:-512m}
POM="$ROOT/deploy/kafka/pom.xml"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
node_port() { echo $((PORT + 2 * ($1 - 1))); }
ctrl_port() { echo $((PORT + 2 * ($1 - 1) + 1)); }
node_dir() { echo "$RUN/node$1"; }
pid_of() { cat "$(node_dir "$1")/pid" 2>/dev/null || true; }
running() { local p; p=$(pid_of "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

fetch_jars() {
  local stamp
  stamp=$(sha256sum "$POM" | cut -c1-16)
  if [ "$(cat "$CACHE/libs/.complete" 2>/dev/null)" = "$stamp" ]; then return; fi
  command -v mvn >/dev/null || { echo "kafka.sh: maven (mvn) is required" >&2; exit 1; }
  rm -rf "$CACHE/libs" && mkdir -p "$CACHE/libs"
  echo "kafka.sh: fetching Apache Kafka's jars from Maven Central (first run: a minute or two)" >&2
  mvn -B -q -f "$POM" -Dmaven.repo.local="$CACHE/m2" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$CACHE/libs"
  echo "$stamp" > "$CACHE/libs/.complete"
}

write_config() {
  local n=$1 dir voters="" rf=1 isr=1 i
  dir=$(node_dir "$n")
  for i in $(seq 1 "$NODES"); do voters+="${voters:+,}$i@127.0.0.1:$(ctrl_port "$i")"; done
  if [ "$NODES" -ge 3 ]; then rf=3; isr=2; fi
  mkdir -p "$dir/data" "$dir/logs"
  cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(node_port "$n"),CONTROLLER://127.0.0.1:$(ctrl_port "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(node_port "$n"),CONTROLLER://127.0.0.1:$(ctrl_port "$n")
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=6
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=3
min.insync.replicas=$isr
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
PROPS
  cat > "$dir/log4j2.properties" <<'LOG'
status = error
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = FILE
LOG
}

java_run() { # java_run DIR CLASS ARGS...: a Kafka class with this cluster's classpath
  local dir=$1; shift
  java -cp "$CACHE/libs/*" -Dlog4j2.configurationFile="$dir/log4j2.properties" \
    -Dkafka.logs.dir="$dir/logs" "$@"
}

cluster_id() {
  mkdir -p "$RUN"
  if [ ! -s "$RUN/cluster.id" ]; then
    java -cp "$CACHE/libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1 > "$RUN/cluster.id"
  fi
  cat "$RUN/cluster.id"
}

launch() {
  local n=$1 dir
  dir=$(node_dir "$n")
  if running "$n"; then return; fi
  if port_open "$(node_port "$n")"; then
    echo "kafka.sh: port $(node_port "$n") is taken by another process" >&2; exit 1
  fi
  write_config "$n"
  if [ ! -f "$dir/data/meta.properties" ]; then # a new node: format it; an old one keeps its data
    java_run "$dir" kafka.tools.StorageTool format -t "$(cluster_id)" \
      -c "$dir/server.properties" >"$dir/logs/format.log" 2>&1
  fi
  nohup java "-Xms$HEAP" "-Xmx$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dkafka.logs.dir="$dir/logs" -Dlog4j2.configurationFile="$dir/log4j2.properties" \
    -cp "$CACHE/libs/*" kafka.Kafka "$dir/server.properties" >"$dir/logs/stdout.log" 2>&1 &
  echo $! > "$dir/pid"
}

wait_open() {
  local n=$1 dir
  dir=$(node_dir "$n")
  for _ in $(seq 1 180); do
    if port_open "$(node_port "$n")"; then return; fi
    if ! running "$n"; then
      echo "kafka.sh: broker $n exited; see $dir/logs" >&2
      tail -n 20 "$dir/logs/stdout.log" >&2; grep -E "ERROR|FATAL" "$dir/logs/server.log" | tail -n 5 >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "kafka.sh: broker $n did not open port $(node_port "$n") within 90 s" >&2; exit 1
}

start() {
  if [ "$NODES" = 1 ] && ! running 1 && port_open "$PORT"; then return; fi # someone else's broker
  fetch_jars
  local n
  for n in $(seq 1 "$NODES"); do launch "$n"; done
  for n in $(seq 1 "$NODES"); do wait_open "$n"; done
}

start_node() { fetch_jars; launch "$1"; wait_open "$1"; }

stop_node() {
  local n=$1 p
  p=$(pid_of "$n")
  [ -n "$p" ] || return 0
  kill "$p" 2>/dev/null || true
  for _ in $(seq 1 120); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$p" 2>/dev/null || true
  rm -f "$(node_dir "$n")/pid"
}

stop() {
  local n
  if [ -n "${1:-}" ]; then stop_node "$1"; return; fi
  for n in $(seq 1 "$NODES"); do stop_node "$n" & done
  wait
}

kill_node() { # SIGKILL, then wait until the process is gone (its ports closed)
  local p
  p=$(pid_of "$1")
  if [ -n "$p" ]; then
    kill -9 "$p" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$(node_dir "$1")/pid"
}

bootstrap() {
  local n out=""
  for n in $(seq 1 "$NODES"); do out+="${out:+,}127.0.0.1:$(node_port "$n")"; done
  echo "$out"
}

tool() { # Kafka's command-line tools (kafka-tools jar), against this cluster
  local class=$1; shift
  fetch_jars
  mkdir -p "$RUN"
  java -cp "$CACHE/libs/*" -Dlog4j2.configurationFile="$(node_dir 1)/log4j2.properties" \
    -Dkafka.logs.dir="$RUN" "$class" --bootstrap-server "$(bootstrap)" "$@"
}

cmd=${1:-start}
[ $# -gt 0 ] && shift
case "$cmd" in
  start) start ;;
  start-node) start_node "$1" ;;
  stop) stop "${1:-}" ;;
  kill) kill_node "$1" ;;
  wipe) for n in $(seq 1 "$NODES"); do kill_node "$n"; done; rm -rf "$RUN" ;;
  bootstrap) bootstrap ;;
  consumer-groups) tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand "$@" ;;
  topics) tool org.apache.kafka.tools.TopicCommand "$@" ;;
  *) echo "usage: $0 start|start-node N|stop [N]|kill N|wipe|bootstrap|consumer-groups ...|topics ..." >&2; exit 2 ;;
esac
