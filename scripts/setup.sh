#!/usr/bin/env bash
# Creates .venv (if needed) and installs torch 2.13.0, the kernel, the first-party plugins and the
# test tools. Re-running is cheap: nothing is reinstalled unless a requirements or project file changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.maze-installed
if [ ! -f "$stamp" ] || [ -n "$(find requirements-dev.txt pyproject.toml plugins/*/pyproject.toml -newer "$stamp")" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
    touch "$stamp"
fi
