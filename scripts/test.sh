#!/usr/bin/env bash
# Sets everything up, then runs the lint and the default test suite (long learning runs excluded:
# run them with `.venv/bin/pytest -m slow`). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/python -m pytest -q "$@"
