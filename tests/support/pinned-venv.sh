#!/usr/bin/env bash
# pinned-venv.sh NAME REQUIREMENTS_FILE...: a Python virtual environment outside
# the repository (~/.cache/certswap/NAME) with the pinned PyPI packages of the
# given requirements files, made anew when they change; prints its directory.
set -euo pipefail
name="${1:?usage: pinned-venv.sh NAME REQUIREMENTS_FILE...}"
shift
venv="${XDG_CACHE_HOME:-$HOME/.cache}/certswap/$name"
stamp="$venv/.requirements"
wanted="$(cat "$@")"
if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]]; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  requirements=()
  for file in "$@"; do requirements+=(-r "$file"); done
  "$venv/bin/pip" install -q --disable-pip-version-check "${requirements[@]}" >&2
  printf '%s' "$wanted" > "$stamp"
fi
echo "$venv"
