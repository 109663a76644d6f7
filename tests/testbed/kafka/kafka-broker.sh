#!/usr/bin/env bash
# A real Apache Kafka broker for tests: KRaft, one node acting as broker and
# controller, an SSL listener on loopback with ssl.client.auth=required.
#
#   kafka-broker.sh start DIR --ca CA.pem --cert CHAIN.pem --key KEY.pem
#                   [--super-user 'User:CN=...'] [--authorizer]
#   kafka-broker.sh stop DIR
#
# start writes DIR/broker.json {"bootstrap": "127.0.0.1:PORT", "pid": N} once
# the broker answers; logs go to DIR/server.log.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

stop() {
  local dir="$1" pid
  [[ -f "$dir/broker.pid" ]] || return 0
  pid="$(cat "$dir/broker.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/broker.pid"
}

start() {
  local dir="$1"; shift
  local ca="" cert="" key="" super_users="User:CN=kafka-broker" authorizer=0
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --ca) ca="$2"; shift 2 ;;
      --cert) cert="$2"; shift 2 ;;
      --key) key="$2"; shift 2 ;;
      --super-user) super_users="$super_users;$2"; shift 2 ;;
      --authorizer) authorizer=1; shift ;;
      *) echo "kafka-broker.sh: unknown option $1" >&2; exit 64 ;;
    esac
  done
  [[ -n "$ca" && -n "$cert" && -n "$key" ]] || { echo "kafka-broker.sh: --ca, --cert and --key are required" >&2; exit 64; }
  local libs
  libs="$("$here/fetch-kafka.sh")"
  mkdir -p "$dir/data"
  stop "$dir"
  # A restart (same DIR) keeps the ports and the data, as a real broker would.
  local port cport
  if [[ -f "$dir/ports" ]]; then
    read -r port cport < "$dir/ports"
  else
    port="$(free_port)"; cport="$(free_port)"
    while [[ "$cport" == "$port" ]]; do cport="$(free_port)"; done
    echo "$port $cport" > "$dir/ports"
  fi

  # A PEM keystore file holds the key followed by the certificate chain.
  (umask 077; cat "$key" "$cert" > "$dir/keystore.pem")

  # Inter-broker and controller traffic use SSL too: the broker's certificate
  # carries clientAuth and is signed by the same project CA, so with the
  # authorizer on, the node registers with its controller as User:CN=kafka-broker
  # (a super user), never as User:ANONYMOUS.
  cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=SSL://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=SSL://127.0.0.1:$port
listener.security.protocol.map=SSL:SSL,CONTROLLER:SSL
controller.listener.names=CONTROLLER
inter.broker.listener.name=SSL
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
ssl.client.auth=required
ssl.keystore.type=PEM
ssl.keystore.location=$dir/keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$ca
ssl.endpoint.identification.algorithm=https
PROPS
  if [[ "$authorizer" == 1 ]]; then
    cat >> "$dir/server.properties" <<PROPS
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=$super_users
PROPS
  fi
  cat > "$dir/log4j2.properties" <<'PROPS'
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = info
logger.ssl.name = org.apache.kafka.common.network.Selector
logger.ssl.level = info
PROPS
  local java=(java -Xms128m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto
              "-Dkafka.logs.dir=$dir" "-Dlog4j2.configurationFile=$dir/log4j2.properties"
              -cp "$libs/*")
  local started_at cluster_id
  started_at=$(date +%s.%N)
  if [[ ! -f "$dir/cluster.id" ]]; then
    "${java[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1 > "$dir/cluster.id"
  fi
  cluster_id="$(cat "$dir/cluster.id")"
  "${java[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" \
    --ignore-formatted > "$dir/format.log" 2>&1 || { cat "$dir/format.log" >&2; exit 1; }
  nohup "${java[@]}" kafka.Kafka "$dir/server.properties" > "$dir/stdout.log" 2>&1 &
  echo $! > "$dir/broker.pid"

  # Ready when the broker says so and the SSL port accepts connections.
  for _ in $(seq 1 900); do
    if ! kill -0 "$(cat "$dir/broker.pid")" 2>/dev/null; then
      echo "kafka-broker.sh: the broker exited during start-up; last log lines:" >&2
      tail -n 40 "$dir/server.log" "$dir/stdout.log" >&2 2>/dev/null || true
      exit 1
    fi
    if grep -q "Kafka Server started\|\[KafkaRaftServer nodeId=1\] Kafka Server started" "$dir/server.log" 2>/dev/null &&
       (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      printf '{"bootstrap": "127.0.0.1:%s", "pid": %s}\n' "$port" "$(cat "$dir/broker.pid")" > "$dir/broker.json"
      printf 'kafka broker ready on 127.0.0.1:%s in %.1f s\n' "$port" "$(awk -v a="$started_at" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')"
      return 0
    fi
    sleep 0.1
  done
  echo "kafka-broker.sh: the broker did not start within 90 s; last log lines:" >&2
  tail -n 40 "$dir/server.log" >&2 2>/dev/null || true
  stop "$dir"
  exit 1
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) stop "$2" ;;
  *) echo "usage: kafka-broker.sh start DIR --ca CA --cert CHAIN --key KEY [--super-user P] [--authorizer] | stop DIR" >&2; exit 64 ;;
esac
