#!/usr/bin/env bash
# Builds certswap, starts the test bed and prints the benchmark tables.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bash deploy/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
ninja -C build certswap aiven-emulator
run="$root/build/bench-run"
export CERTSWAP_EMULATOR_BIN="$root/build/tests/testbed/emulator/aiven-emulator"
trap 'tests/testbed/testbed.sh down "$run"' EXIT
tests/testbed/testbed.sh up "$run"
python3 tests/bench/bench.py "$run" "$root/build/agent/certswap" "$@"
