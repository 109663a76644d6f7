#!/usr/bin/env bash
# A full rotation on the local test bed, end to end (README Quick start):
# the emulated Aiven API renews a user's certificate; certswap fetches it,
# validates it against a real mTLS Kafka broker, swaps it atomically and
# acknowledges the renewal.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

bash deploy/install-deps.sh
# build-demo/: a plain release build (the test suite's build/ has sanitizers).
cmake -S . -B build-demo -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
ninja -C build-demo certswap aiven-emulator

run="$root/build-demo/demo-run"
export CERTSWAP_EMULATOR_BIN="$root/build-demo/tests/testbed/emulator/aiven-emulator"
trap 'tests/testbed/testbed.sh down "$run"' EXIT
tests/testbed/testbed.sh up "$run"
tb() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$run/testbed.json" "$1"; }
api="$(tb api_url)"
emu="$run/emulator"
control() { curl -sS --fail --cacert "$emu/api-ca.pem" -X POST "$api/_testbed/$1" -d "$2" > /dev/null; }

export CERTSWAP_API_URL="$api" CERTSWAP_API_CA_FILE="$emu/api-ca.pem" CERTSWAP_TOKEN_FILE="$emu/token"
export CERTSWAP_PROJECT=test-project CERTSWAP_SERVICE=kafka-test CERTSWAP_USER=app
export CERTSWAP_OUTPUT_DIR="$run/creds"
certswap="$root/build-demo/agent/certswap"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "The broker requires client certificates: one from the project CA connects..."
"$certswap" validate --cert "$emu/admin.pem" --key "$emu/admin.key" --ca "$emu/project-ca.pem" --bootstrap "$(tb bootstrap)"
step "...one from a foreign CA is refused by the broker"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=intruder" \
  -keyout "$run/foreign.key" -out "$run/foreign.pem" 2> /dev/null
cat "$run/foreign.pem" "$emu/project-ca.pem" > "$run/foreign-bundle.pem"
"$certswap" validate --cert "$run/foreign.pem" --key "$run/foreign.key" --ca "$run/foreign-bundle.pem" \
  --bootstrap "$(tb bootstrap)" || echo "(exit $?: refused, as it should be)"

step "certswap init: install the current credential of user 'app' into $CERTSWAP_OUTPUT_DIR"
"$certswap" init

step "Aiven renews the certificate and key of 'app' (emulated)"
control renew '{"project":"test-project","service":"kafka-test","username":"app","ou":"renewed"}'
"$certswap" status

step "certswap rotate: fetch, validate offline and against the broker, swap, acknowledge"
"$certswap" rotate

step "certswap rotate again: nothing to do"
"$certswap" rotate

step "Result"
"$certswap" status
ls -la "$CERTSWAP_OUTPUT_DIR"
echo
echo "acknowledgements seen by the API: $(curl -sS --cacert "$emu/api-ca.pem" "$api/_testbed/acks?project=test-project&service=kafka-test&username=app")"
