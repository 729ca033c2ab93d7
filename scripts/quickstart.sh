#!/usr/bin/env bash
# Sets everything up, then runs the main job: the tutorial script (train CartPole with A2C on the
# dev and local runners, then evaluate).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/python examples/plain_python_training.py
