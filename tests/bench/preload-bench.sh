#!/usr/bin/env bash
# Cost of libcertswap-preload.so per new TLS connection (Markdown table).
# usage: preload-bench.sh <build-dir>   (a configured build; builds what it needs)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$1"
ninja -C "$build" preload_bench certswap-preload > /dev/null
bench="$build/tests/preload/preload_bench"
lib="$build/plugins/preload/libcertswap-preload.so"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
run() { # label, then env assignments
  local label="$1"
  shift
  "$here/../preload/make-fixture.sh" "$work/$label" > /dev/null
  ln -sfn ..2026_01_01_00_00_01.000000000 "$work/$label/out/..data"
  env "$@" "$bench" "$label" "$work/$label/out" "$work/$label/pki"
}
echo "| run | SSL_new+SSL_free, context from the directory (µs) | SSL_new+SSL_free, other context (µs) | TLS 1.3 handshake, in-process (µs) |"
echo "|---|---|---|---|"
# Alternating rounds: on a shared machine the spread between rounds shows the noise.
for round in 1 2 3; do
  run "without the library, round $round"
  run "with LD_PRELOAD, round $round" LD_PRELOAD="$lib" \
    CERTSWAP_RELOAD_DIR="$work/with LD_PRELOAD, round $round/out"
done

# The static path (PyPI's wheel, librdkafka with OpenSSL linked in): dlopen's
# time (recognition and patching with the library) and the broker transport's
# call in place of SSL_new, as the code in memory makes it.
ninja -C "$build" preload_static_bench > /dev/null
static_bench="$build/tests/preload/preload_static_bench"
venv_python="$("$here/../examples/setup-venv.sh")"
wheel_lib="$("$venv_python" -c 'import confluent_kafka, glob, os; print(*glob.glob(os.path.join(os.path.dirname(confluent_kafka.__file__) + ".libs", "librdkafka-*.so*")))')"
run_static() { # label, then env assignments
  local label="$1"
  shift
  "$here/../preload/make-fixture.sh" "$work/static $label" > /dev/null
  ln -sfn ..2026_01_01_00_00_01.000000000 "$work/static $label/out/..data"
  env "$@" "$static_bench" "$label" "$wheel_lib" "$work/static $label/out" "$work/static $label/pki"
}
echo
echo "Static path, $(basename "$wheel_lib") from PyPI's confluent-kafka wheel:"
echo
echo "| run | the transport's call reaches | dlopen of librdkafka (ms) | call+SSL_free, context from the directory (µs) | call+SSL_free, other context (µs) |"
echo "|---|---|---|---|---|"
for round in 1 2 3; do
  run_static "without the library, round $round"
  run_static "with LD_PRELOAD, round $round" LD_PRELOAD="$lib" \
    CERTSWAP_RELOAD_DIR="$work/static with LD_PRELOAD, round $round/out"
done
