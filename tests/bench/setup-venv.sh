#!/usr/bin/env bash
# A Python virtual environment (outside the repository) with the pinned PyPI
# packages of the benchmarks (the baseline's `avn`, matplotlib for the chart);
# prints its directory.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$here/../support/pinned-venv.sh" venv-bench "$here/requirements.txt"
