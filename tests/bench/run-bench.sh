#!/usr/bin/env bash
# Builds certswap into build-bench/, installs the baseline's Aiven CLI, starts the
# test bed and prints the benchmark tables (Markdown) and writes build-bench/bench.json
# and build-bench/bench.png (chart.py).
# Arguments go to bench.py (e.g. --rotations 50 --idle-seconds 60 --scale 1,10,100,1000).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bash deploy/install-deps.sh > /dev/null
build="$root/build-bench"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
ninja -C "$build" certswap aiven-emulator cpp-producer > /dev/null
# The other example producers of --only load (bench.py --load-runs).
mvn -B -q package -DskipTests -f examples/java-client/pom.xml > /dev/null
tests/examples/build-go.sh "$build/examples/go-franz/go-producer" > /dev/null

# The baseline's avn (PyPI aiven-client) and matplotlib, pinned in requirements.txt.
venv="$(tests/bench/setup-venv.sh)"

# The preload library's cost per new TLS connection (no test bed needed).
tests/bench/preload-bench.sh "$build"

run="$build/bench-run"
rm -rf "$run"
export CERTSWAP_EMULATOR_BIN="$build/tests/testbed/emulator/aiven-emulator"
trap 'tests/testbed/testbed.sh down "$run" > /dev/null' EXIT
tests/testbed/testbed.sh up "$run" > /dev/null
"$venv/bin/python" tests/bench/bench.py "$run" "$build/agent/certswap" --avn "$venv/bin/avn" \
  --examples-bin "$build/examples" --go-producer "$build/examples/go-franz/go-producer" --json "$build/bench.json" --chart "$build/bench.png" "$@"
