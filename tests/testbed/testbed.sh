#!/usr/bin/env bash
# The test bed: the Aiven API emulator and a real mTLS Kafka broker that
# trusts the emulator's project CA. See README.md beside this file.
#
#   testbed.sh up DIR     (needs CERTSWAP_EMULATOR_BIN)
#   testbed.sh down DIR
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

down() {
  local dir="$1"
  "$here/kafka/kafka-broker.sh" stop "$dir/kafka" 2>/dev/null || true
  if [[ -f "$dir/emulator.pid" ]]; then
    local pid; pid="$(cat "$dir/emulator.pid")"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$dir/emulator.pid"
  fi
}

up() {
  local dir="$1"
  : "${CERTSWAP_EMULATOR_BIN:?set CERTSWAP_EMULATOR_BIN to the aiven-emulator binary}"
  [[ -d "$dir" ]] && down "$dir"
  rm -rf "$dir"
  mkdir -p "$dir/emulator" "$dir/kafka"
  local emu="$dir/emulator"

  nohup "$CERTSWAP_EMULATOR_BIN" --state-dir "$emu" --port 0 --ready-file "$emu/ready.json" \
    > "$emu/emulator.log" 2>&1 &
  echo $! > "$dir/emulator.pid"
  # A first start makes five RSA-3072 keys: 18 s under the sanitizers on a
  # loaded 2-core machine.
  for _ in $(seq 1 600); do [[ -f "$emu/ready.json" ]] && break; sleep 0.1; done
  [[ -f "$emu/ready.json" ]] || { echo "testbed: the emulator did not start:" >&2; cat "$emu/emulator.log" >&2; exit 1; }
  local api_url
  api_url="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api_url"])' "$emu/ready.json")"

  "$here/kafka/kafka-broker.sh" start "$dir/kafka" --ca "$emu/project-ca.pem" \
    --cert "$emu/broker.pem" --key "$emu/broker.key" --super-user "User:CN=testbed-admin"
  local bootstrap port
  bootstrap="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bootstrap"])' "$dir/kafka/broker.json")"
  port="${bootstrap##*:}"

  curl -sS --fail --cacert "$emu/api-ca.pem" -X POST "$api_url/_testbed/service" \
    -d "{\"project\":\"test-project\",\"service\":\"kafka-test\",\"host\":\"127.0.0.1\",\"port\":$port}" > /dev/null

  cat > "$dir/testbed.json.tmp" <<JSON
{
  "api_url": "$api_url",
  "api_ca": "$emu/api-ca.pem",
  "token_file": "$emu/token",
  "project": "test-project",
  "service": "kafka-test",
  "project_ca": "$emu/project-ca.pem",
  "bootstrap": "$bootstrap",
  "admin_cert": "$emu/admin.pem",
  "admin_key": "$emu/admin.key",
  "emulator_dir": "$emu",
  "kafka_dir": "$dir/kafka",
  "logs": ["$emu/emulator.log", "$dir/kafka/server.log"]
}
JSON
  mv "$dir/testbed.json.tmp" "$dir/testbed.json"
  echo "test bed up: API $api_url, Kafka $bootstrap"
}

case "${1:-}" in
  up) up "$2" ;;
  down) down "$2" ;;
  *) echo "usage: testbed.sh up|down DIR" >&2; exit 64 ;;
esac
