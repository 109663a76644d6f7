#!/usr/bin/env bash
# Runs the examples' tests (pytest in the pinned venv); arguments go to pytest.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="$("$here/setup-venv.sh")"
exec "$python" -m pytest -p no:cacheprovider -q -s "$here/test_hot_reload.py" "$@"
