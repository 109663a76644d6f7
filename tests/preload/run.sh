#!/usr/bin/env bash
# Runs preload_test on a fresh fixture (make-fixture.sh), with the library
# preloaded or not.
# usage: run.sh <preload_test> <libcertswap-preload.so> <case> <reload|reload-ca|none>
set -euo pipefail
bin="$1" lib="$2" case="$3" mode="$4"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$(dirname "${BASH_SOURCE[0]}")/make-fixture.sh" "$work"
pki="$work/pki" out="$work/out"

# A generation that could not be read is tried again at once, not a second later.
env=(CERTSWAP_RELOAD_DIR="$out" CERTSWAP_RELOAD_LOG=stderr CERTSWAP_RELOAD_RETRY_MS=0)
[[ "$mode" == none ]] || env+=(LD_PRELOAD="$lib")
[[ "$mode" == reload-ca ]] && env+=(CERTSWAP_RELOAD_CA=1)
# The library is told a directory certswap does not write (the later value wins).
[[ "$case" == inactive-missing-dir ]] && env+=(CERTSWAP_RELOAD_DIR="$work/missing")
[[ "$case" == inactive-unmanaged-dir ]] && env+=(CERTSWAP_RELOAD_DIR="$pki")
[[ "$mode" == none ]] || arg=reload
rc=0
env "${env[@]}" "$bin" "$case" "$out" "$pki" "${arg:-none}" 2> "$work/stderr" || rc=$?
cat "$work/stderr" >&2
((rc == 0)) || exit "$rc"
count() { grep -c "$1" "$work/stderr" || true; }
if [[ "$case" == refused-generation && "$mode" != none ]]; then
  # Five connections while the broken generation is live: it is read and refused once.
  refusals=$(count "refused generation ..2026_01_01_00_00_03.*key does not match")
  echo "refusal log lines: $refusals (expected 1)"
  [[ "$refusals" == 1 ]] || exit 1
fi
if [[ "$case" == transient-error && "$mode" != none ]]; then
  # Out of fds it could not read generation 4; with fds again it switched.
  failed=$(count "could not read generation ..2026_01_01_00_00_04.*Too many open files")
  switched=$(count "switched to generation ..2026_01_01_00_00_04")
  echo "could-not-read lines: $failed, switches: $switched (expected 1 and 1)"
  [[ "$failed" == 1 && "$switched" == 1 ]] || exit 1
fi
if [[ "$case" == inactive-* && "$mode" != none ]]; then
  [[ "$case" == inactive-missing-dir ]] && why="$work/missing: no such directory" \
    || why="$pki: no ..data link, not a certswap output directory"
  said=$(count "CERTSWAP_RELOAD_DIR=$why; inactive")
  echo "inactive log lines: $said (expected 1)"
  [[ "$said" == 1 ]] || exit 1
fi
if grep -q "BEGIN\|PRIVATE" "$work/stderr"; then
  echo "key or certificate material in the log" >&2
  exit 1
fi
