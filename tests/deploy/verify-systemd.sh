#!/usr/bin/env bash
# Checks the units in deploy/systemd without booting them:
#   1. systemd-analyze verify loads each unit cleanly (any warning fails: an
#      unknown key or a misspelt value is only a warning to systemd);
#   2. the hardening and the directives certswap relies on are there;
#   3. certswap itself accepts each ExecStart= command line;
#   4. systemd-analyze security --offline rates each service's exposure <= 2.0.
# The units name /usr/local/bin/certswap, which verify requires to exist, so
# they are checked from a copy pointing at the binary under test.
# Usage: verify-systemd.sh path/to/certswap
# Exit 0: all good; 1: a problem (printed); 77: systemd-analyze can't run here.
set -euo pipefail

binary="${1:?usage: verify-systemd.sh path/to/certswap}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
units_dir="$root/deploy/systemd"
units=(certswap.service certswap-rotate.service certswap-rotate.timer)
services=(certswap.service certswap-rotate.service)

[[ -x "$binary" ]] || { echo "verify-systemd: FAIL: $binary is not an executable" >&2; exit 1; }
binary="$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")"

if ! command -v systemd-analyze >/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "verify-systemd: installing systemd for systemd-analyze" >&2
    if apt-get update -qq >&2; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >&2 || true
    fi
  fi
  if ! command -v systemd-analyze >/dev/null; then
    echo "verify-systemd: SKIP: systemd-analyze is not installed and could not be (apt-get install systemd as root)" >&2
    exit 77
  fi
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for u in "${units[@]}"; do
  sed "s|/usr/local/bin/certswap|$binary|g" "$units_dir/$u" >"$work/$u"
done

verify=(systemd-analyze verify --man=no --generators=no)

# Can verify work in this environment at all (a container without systemd as
# PID 1 usually can)? A unit that can't be wrong tells.
printf '[Unit]\nDescription=probe\n[Service]\nType=oneshot\nExecStart=/bin/true\n' >"$work/probe.service"
if ! probe="$(cd "$work" && "${verify[@]}" ./probe.service 2>&1)" || [[ -n "$probe" ]]; then
  echo "verify-systemd: SKIP: systemd-analyze verify cannot run here; on a trivial unit it said:" >&2
  (cd "$work" && SYSTEMD_LOG_LEVEL=debug "${verify[@]}" ./probe.service 2>&1 | tail -n 15) >&2 || true
  exit 77
fi
rm "$work/probe.service"

failures=0
fail() {
  echo "verify-systemd: FAIL: $*" >&2
  failures=$((failures + 1))
}

# --- 1. systemd-analyze verify -----------------------------------------------
out="$(cd "$work" && "${verify[@]}" "${units[@]/#/./}" 2>&1)" && rc=0 || rc=$?
if ((rc != 0)) || [[ -n "$out" ]]; then
  printf '%s\n' "$out" >&2
  fail "systemd-analyze verify (exit $rc) complained about the units above"
fi

# A unit as KEY=VALUE lines: comments dropped, continuation lines joined.
logical_lines() {
  awk '
    /^[[:space:]]*[#;]/ { next }
    { line = line $0 }
    /\\[[:space:]]*$/ { sub(/\\[[:space:]]*$/, " ", line); next }
    { if (line ~ /[^[:space:]]/) print line; line = "" }
  ' "$1"
}
value_of() { logical_lines "$1" | sed -n "s/^$2=//p" | tail -n 1; }

# --- 2. required directives --------------------------------------------------
require() {
  local unit="$1" line
  shift
  for line in "$@"; do
    logical_lines "$units_dir/$unit" | grep -xF "$line" >/dev/null || fail "$unit lacks $line"
  done
}
hardening=(NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes
  LoadCredential=aiven-token:/etc/certswap/token)
require certswap.service Type=notify NotifyAccess=main "${hardening[@]}"
require certswap-rotate.service Type=oneshot "${hardening[@]}"
require certswap-rotate.timer Persistent=true
[[ -n "$(value_of "$units_dir/certswap.service" WatchdogSec)" ]] || fail "certswap.service sets no WatchdogSec="
[[ -n "$(value_of "$units_dir/certswap-rotate.timer" RandomizedDelaySec)" ]] ||
  fail "certswap-rotate.timer sets no RandomizedDelaySec="
for s in "${services[@]}"; do
  user="$(value_of "$units_dir/$s" User)"
  dynamic="$(value_of "$units_dir/$s" DynamicUser)"
  [[ -n "$user" && "$user" != root && "$user" != 0 || "$dynamic" == yes ]] ||
    fail "$s runs as root: set User= (not root) or DynamicUser=yes"
done

# --- 3. ExecStart= against certswap's own flag parser ------------------------
# The command line runs for real, with the target from certswap.env and a
# credentials directory that holds no token: certswap gets as far as reading
# the token (exit 64, "API token file"), which it does only once every flag
# parsed. An unknown or misplaced flag stops it earlier with another message.
env_vars=()
while IFS= read -r line; do
  [[ "$line" =~ ^[A-Z_][A-Z0-9_]*= ]] && env_vars+=("$line")
done <"$units_dir/certswap.env"
for s in "${services[@]}"; do
  exec_start="$(value_of "$work/$s" ExecStart)"
  output_dir="$(sed -nE 's/.*--output-dir[ =]([^ ]+).*/\1/p' <<<"$exec_start")"
  read_write="$(value_of "$units_dir/$s" ReadWritePaths)"
  [[ -n "$output_dir" && " $read_write " == *" $output_dir "* ]] ||
    fail "$s: ReadWritePaths=$read_write does not cover --output-dir ${output_dir:-(none)}"
  # shellcheck disable=SC2016 # the literal text systemd expands, not ours
  [[ "$exec_start" == *'--token-file ${CREDENTIALS_DIRECTORY}/aiven-token'* ]] ||
    fail "$s: ExecStart= does not read the token from \${CREDENTIALS_DIRECTORY}/aiven-token"
  read -r -a argv <<<"${exec_start//\$\{CREDENTIALS_DIRECTORY\}/$work/no-credentials}"
  run_out="$(cd "$work" && env -i PATH=/usr/bin:/bin "${env_vars[@]}" "${argv[@]}" 2>&1)" && rc=0 || rc=$?
  if ((rc != 64)) || [[ "$run_out" != *"API token file"* ]]; then
    printf '%s\n' "$run_out" >&2
    fail "$s: certswap did not accept ExecStart= (exit $rc, output above)"
  fi
done

# --- 4. exposure --------------------------------------------------------------
if systemd-analyze security --help 2>/dev/null | grep -- '--offline' >/dev/null; then
  for s in "${services[@]}"; do
    if ! sec="$(cd "$work" && systemd-analyze security --offline=true --threshold=20 "./$s" 2>&1)"; then
      printf '%s\n' "$sec" | grep 'Overall' >&2 || printf '%s\n' "$sec" >&2
      fail "$s: exposure above 2.0; the hardening regressed (details: systemd-analyze security --offline=true $s)"
    else
      printf '%s\n' "$sec" | grep 'Overall'
    fi
  done
else
  echo "verify-systemd: note: this systemd-analyze has no security --offline; exposure not rated" >&2
fi

if ((failures)); then
  echo "verify-systemd: $failures problem(s) in $units_dir" >&2
  exit 1
fi
echo "verify-systemd: ok (${units[*]})"
