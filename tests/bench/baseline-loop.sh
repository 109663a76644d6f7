#!/usr/bin/env bash
# The baseline bench.py compares certswap with: what a user runs without it.
# A shell loop that downloads the service user's files with the Aiven CLI
# (`avn service user-creds-download`, PyPI package aiven-client) and restarts
# the app when they changed. It does not validate the new set, does not swap
# atomically and does not acknowledge the renewal.
#
#   baseline-loop.sh [--once] DIR INTERVAL_SECONDS
#
# Environment: AVN (the avn executable), PROJECT, SERVICE, USERNAME, APP_PIDFILE,
# and avn's own AIVEN_WEB_URL, AIVEN_AUTH_TOKEN, REQUESTS_CA_BUNDLE.
# The app is a stand-in (`sleep infinity`): its restart is kill + spawn, so a
# real app's start-up time (JVM, reconnect, consumer rebalance) is not counted.
set -uo pipefail
once=0
if [[ ${1:-} == --once ]]; then once=1; shift; fi
dir=$1 interval=$2
mkdir -p "$dir/new"

restart_app() {
  if [[ -s $APP_PIDFILE ]]; then kill "$(cat "$APP_PIDFILE")" 2>/dev/null; fi
  setsid sleep infinity < /dev/null > /dev/null 2>&1 &
  echo $! > "$APP_PIDFILE"
}

cycle() {
  "$AVN" service user-creds-download --project "$PROJECT" --username "$USERNAME" \
    -d "$dir/new" "$SERVICE" > /dev/null || return 1
  local f changed=0
  for f in ca.pem service.cert service.key; do
    cmp -s "$dir/new/$f" "$dir/$f" || { mv "$dir/new/$f" "$dir/$f"; changed=1; }
  done
  if ((changed)); then restart_app; fi
}

if ((once)); then cycle; exit; fi
while :; do
  cycle
  echo "cycle done $(date +%s.%N)"
  sleep "$interval"
done
