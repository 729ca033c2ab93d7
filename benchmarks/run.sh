#!/usr/bin/env bash
# Run the benchmark suite (B1-B9) and write docs/benchmarks.md.
#
#   benchmarks/run.sh                 # everything, about 20 minutes on 2 idle cores (B8: about 10)
#   benchmarks/run.sh --only B1,B5    # some benchmarks (docs/benchmarks.md is then not rewritten)
#   benchmarks/run.sh --quick         # shorter runs, to check that everything works
#
# Installs the benchmark-only dependencies (Stable-Baselines3, with torch pinned so that it stays
# the version the project uses) into .venv, then runs `python -m benchmarks.run`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=.venv/bin/python
"$PYTHON" -m pip install --quiet --disable-pip-version-check -r benchmarks/requirements.txt
exec "$PYTHON" -m benchmarks.run "$@"
