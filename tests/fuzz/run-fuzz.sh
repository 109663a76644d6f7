#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ and runs each for SECONDS.
#
#   bash tests/fuzz/run-fuzz.sh [SECONDS]        (default 60; FUZZ_TARGETS="pem config" for a subset)
#
# A target stops at its first crash. FUZZ_KEEP_GOING=1 runs libFuzzer in fork
# mode with -ignore_crashes=1 instead, so that a known crash does not hide the
# rest: every target runs its full time and all crashes are collected.
#
# Targets: pem (PEM parsing, cert facts, offline validation), aiven (API
# response bodies through aiven_response.hpp), config (the --config file).
# Each target first replays tests/fuzz/regressions/<target>/ (inputs that once
# crashed; any crash there fails at once), then fuzzes.
# Seeds: tests/fuzz/corpus/<target>/ (read only); what the fuzzer adds goes to
# build-fuzz/corpus/<target>/ (gitignored, kept between runs). A crash is
# copied to tests/fuzz/crashes-found/<target>/ with its log, and the script
# exits 1. Reproduce one with: build-fuzz/<target>_fuzz <crash file>
#
# Compiler: clang-16 with -D__cpp_concepts=202002L. The code uses std::expected
# from libstdc++ 12, whose <expected> is only enabled when __cpp_concepts >=
# 202002L. Debian 12's clang-14 and clang-16 both still report 201907L. clang-14
# cannot be helped: it lacks P0848 (destructors chosen by requires clauses), so
# even with the macro set, std::expected<std::string, E> gets a deleted
# destructor. clang-16 implements P0848 (it only raised the macro in a later
# release), so there the redefinition tells the truth and libstdc++'s
# std::expected compiles and behaves. -Wno-macro-redefined silences the one
# warning it causes. The alternatives were worse: libc++ has its own
# std::expected but is not ABI compatible with the libstdc++-built fmt/spdlog
# the agent links, and g++ 12 has no libFuzzer. bookworm has no
# libclang-rt-15-dev, and clang-15 lacks P0848 anyway.
#
# The agent sources are compiled directly with the fuzzing instrumentation
# (not through the main CMake build) into build-fuzz/, away from build/.
set -euo pipefail

seconds="${1:-60}"
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "usage: $0 [SECONDS]" >&2; exit 64; }
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fuzz_dir="$root/tests/fuzz"
out="$root/build-fuzz"
targets=(${FUZZ_TARGETS:-pem aiven config})

# --- what the build needs: clang-16 and libFuzzer come with the project's deps.
bash "$root/deploy/install-deps.sh" >&2

# --- build --------------------------------------------------------------------
cxx=clang++-16
common=(-std=c++2b -D__cpp_concepts=202002L -Wno-macro-redefined
        -g -O1 -fno-omit-frame-pointer
        -fsanitize=address,undefined -fno-sanitize-recover=all
        -I"$root/agent/include" $(pkg-config --cflags spdlog fmt libcurl openssl))
libs=($(pkg-config --libs spdlog fmt libcurl openssl) -pthread)

declare -A sources=(
  [pem]="pem cert_info offline_validator ssl_handles error"
  [aiven]="aiven_response cert_info pem ssl_handles error"
  [config]="config config_schema error"
)

mkdir -p "$out/obj"
build_object() {  # agent source name -> object path; rebuilt when older than its inputs
  local src="$root/agent/src/$1.cpp" obj="$out/obj/$1.o"
  if [[ ! -f "$obj" || "$src" -nt "$obj" ]] ||
     [[ -n "$(find "$root/agent/include" -newer "$obj" -print -quit)" ]]; then
    echo "run-fuzz: compiling agent/src/$1.cpp" >&2
    "$cxx" "${common[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
  fi
  echo "$obj"
}

for t in "${targets[@]}"; do
  [[ -n "${sources[$t]:-}" ]] || { echo "run-fuzz: unknown target $t" >&2; exit 64; }
  objs=()
  for s in ${sources[$t]}; do objs+=("$(build_object "$s")"); done
  echo "run-fuzz: linking ${t}_fuzz" >&2
  "$cxx" "${common[@]}" -fsanitize=fuzzer "$fuzz_dir/${t}_fuzz.cpp" "${objs[@]}" "${libs[@]}" \
    -o "$out/${t}_fuzz"
done

# --- run ----------------------------------------------------------------------
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
crashed=()
for t in "${targets[@]}"; do
  work="$out/corpus/$t" artifacts="$out/artifacts/$t" log="$out/$t.log"
  mkdir -p "$work" "$artifacts"
  rm -f "$artifacts"/*
  dict=() mode=()
  [[ "${FUZZ_KEEP_GOING:-0}" == 1 ]] && mode=(-fork=1 -ignore_crashes=1)
  [[ -f "$fuzz_dir/$t.dict" ]] && dict=(-dict="$fuzz_dir/$t.dict")
  if compgen -G "$fuzz_dir/regressions/$t/*" > /dev/null; then
    if ! (cd "$out" && "./${t}_fuzz" "$fuzz_dir/regressions/$t/"*) > "$out/$t.regressions.log" 2>&1; then
      echo "run-fuzz: $t: a regression input crashes again:" >&2
      grep -E -m1 -A30 'ERROR: |runtime error:' "$out/$t.regressions.log" >&2 || tail -n 40 "$out/$t.regressions.log" >&2
      crashed+=("$t")
      continue
    fi
    echo "run-fuzz: $t: $(ls "$fuzz_dir/regressions/$t" | wc -l) regression inputs pass" >&2
  fi
  echo "run-fuzz: running ${t}_fuzz for ${seconds}s (log: $log)" >&2
  rc=0
  (cd "$out" && "./${t}_fuzz" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=4096 \
     -print_final_stats=1 -artifact_prefix="$artifacts/" "${mode[@]}" "${dict[@]}" \
     "$work" "$fuzz_dir/corpus/$t") > "$log" 2>&1 || rc=$?
  # The last status line ("#N DONE cov: ..." or the line before a crash) and the rate.
  status_line="$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)"
  rate="$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}' || true)"
  echo "run-fuzz: $t: exit $rc; ${status_line:-no status line}; exec/s ${rate:-?}" >&2
  if ((rc != 0)) || compgen -G "$artifacts/*" > /dev/null; then
    crashed+=("$t")
    dest="$fuzz_dir/crashes-found/$t"
    mkdir -p "$dest"
    cp "$artifacts"/* "$dest/" 2>/dev/null || true
    cp "$log" "$dest/fuzz.log"
    echo "run-fuzz: $t CRASHED; input and log copied to ${dest#"$root"/}:" >&2
    grep -E -m1 -A30 'ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|runtime error:' "$log" >&2 || tail -n 40 "$log" >&2
  fi
done

if ((${#crashed[@]})); then
  echo "run-fuzz: crashed: ${crashed[*]}" >&2
  exit 1
fi
echo "run-fuzz: no crash in ${targets[*]} (${seconds}s each)" >&2
