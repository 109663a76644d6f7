#!/usr/bin/env bash
# A Python virtual environment (outside the repository) with the pinned PyPI
# packages the Python example and the examples' tests use; prints its python.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$(bash "$here/../support/pinned-venv.sh" venv-examples "$here/requirements.txt" \
  "$here/../../examples/python/requirements.txt")"
echo "$venv/bin/python"
