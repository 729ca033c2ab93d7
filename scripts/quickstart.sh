#!/usr/bin/env bash
# The first hour in one command: set up, train CartPole-v1 with A2C from the CLI until the mean
# evaluation return reaches 475 (tuned settings: docs/training.md, "Learning CartPole"), evaluate
# the saved run, then run the original tutorial script (examples/plain_python_training.py).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/maze train --env CartPole-v1 --algorithm a2c --seed 0 --epochs 50 --target-return 475 \
    --set algorithm.gamma=0.99 --set algorithm.lr=0.0007 --set algorithm.n_rollout_steps=20 \
    --set algorithm.epoch_length=10 --set algorithm.patience=0 --set runner.n_envs=8 \
    --run-dir outputs/quickstart --overwrite
.venv/bin/maze evaluate outputs/quickstart --episodes 20
.venv/bin/python examples/plain_python_training.py
