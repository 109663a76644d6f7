#!/usr/bin/env bash
# A Python virtual environment (outside the repository) with the pinned PyPI
# packages of the benchmarks (the baseline's `avn`, matplotlib for the chart);
# prints its directory.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${XDG_CACHE_HOME:-$HOME/.cache}/certswap/venv-bench"
stamp="$venv/.requirements"
wanted="$(cat "$here/requirements.txt")"
if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]]; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt" >&2
  printf '%s' "$wanted" > "$stamp"
fi
echo "$venv"
