#!/usr/bin/env bash
# Runs test_preload_reload.py (pytest in the pinned venv); arguments go to pytest.
# The apps under test run with the system's /usr/bin/python3 and kcat, or the
# venv's python with PyPI's wheel. A first argument test_*.py runs that file.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="$("$here/setup-venv.sh")"
file=test_preload_reload.py
if [[ "${1:-}" == test_*.py ]]; then
  file="$1"
  shift
fi
exec "$python" -m pytest -p no:cacheprovider -q -s "$here/$file" "$@"
