#!/usr/bin/env bash
# A Python virtual environment (outside the repository) with the pinned PyPI
# packages of the API tests (jsonschema, the official `avn` CLI); prints its python.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$(bash "$here/../support/pinned-venv.sh" venv-api "$here/requirements.txt")"
echo "$venv/bin/python"
