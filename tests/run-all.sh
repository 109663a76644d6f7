#!/usr/bin/env bash
# The test command (README Quick start; .ci/run calls exactly this): installs
# what is missing, builds, and runs every test through ctest, which starts the
# test bed (Aiven API emulator + real mTLS Kafka broker) once for the run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash deploy/install-deps.sh
# The code keeps to .clang-format; a drifted file fails here, before the build.
git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run --Werror
# The suite runs on an AddressSanitizer + UndefinedBehaviorSanitizer build: any
# report ends the process with a failing exit code, so the test that caused it fails.
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCERTSWAP_WERROR=ON \
  -DCERTSWAP_SANITIZE=address,undefined > /dev/null
ninja -C build
# The real kube-apiserver and etcd (tests/testbed/kubernetes) build once from
# the Go module proxy (5-11 min cold, cached under ~/.cache/certswap): here,
# not inside ctest, so the build does not load the machine under timed tests.
bash tests/testbed/kubernetes/build-kube.sh >/dev/null
# helm for the chart check (kube.helm-chart), the same way (about 7 min cold).
bash tests/testbed/kubernetes/build-helm.sh >/dev/null

status=0
ctest --test-dir build --output-on-failure -j2 || status=$?
if [[ $status -ne 0 ]]; then
  for log in build/testbed-run/emulator/emulator.log build/testbed-run/kafka/server.log; do
    [[ -f "$log" ]] && { echo "=== last lines of $log"; tail -n 30 "$log"; }
  done
  exit $status
fi

# The ThreadSanitizer job: certswap rebuilt with TSan, the daemon's tests again.
bash tests/run-sanitizers.sh build
