#!/usr/bin/env bash
# The ThreadSanitizer job, run by tests/run-all.sh after the main suite (which
# itself is built with AddressSanitizer + UndefinedBehaviorSanitizer).
# certswap is rebuilt with -fsanitize=thread in build-tsan/, and the daemon's
# integration tests (the part with threads: the HTTP endpoint beside the event
# loop, librdkafka's threads in the broker check) run that binary through the
# main build's test runner (CERTSWAP_TEST_BIN). A report fails the test.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
main_build="${1:-build}"

export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/tests/tsan/suppressions.txt"
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCERTSWAP_WERROR=ON \
  -DCERTSWAP_BUILD_EXAMPLES=OFF -DCERTSWAP_SANITIZE=thread > /dev/null
ninja -C build-tsan certswap
# The API fault-rate test is left out: it spends 30 s asleep, counting how
# seldom the sidecar asks, which the threads don't change. The hung-broker one
# stays: it destroys librdkafka handles whose threads are mid-handshake.
CERTSWAP_TEST_BIN="$root/build-tsan/agent/certswap" \
  ctest --test-dir "$main_build" --output-on-failure \
  -R '^integration\..*(sidecar|rotate endpoint|POST /rotate|repaired|SIGTERM|notifier|API 500s|hung broker)' \
  -E 'bounded request rate'
