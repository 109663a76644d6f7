#!/usr/bin/env bash
# Runs one of the API tests (pytest in the pinned venv): run.sh FILE [pytest args].
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="$("$here/setup-venv.sh")"
file="$1"
shift
exec "$python" -B -m pytest -p no:cacheprovider -q "$here/$file" "$@"
