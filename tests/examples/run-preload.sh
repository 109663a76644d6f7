#!/usr/bin/env bash
# Runs test_preload_reload.py (pytest in the pinned venv); arguments go to pytest.
# The apps under test run with the system's /usr/bin/python3 and kcat.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="$("$here/setup-venv.sh")"
exec "$python" -m pytest -p no:cacheprovider -q -s "$here/test_preload_reload.py" "$@"
