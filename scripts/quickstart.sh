#!/usr/bin/env bash
# The first hour in one command: set up, train CartPole-v1 with A2C from the CLI until the mean
# evaluation return reaches 475 (tuned settings: docs/training.md, "Learning CartPole"), evaluate
# the saved run, run the original tutorial script (examples/plain_python_training.py), and end
# with a summary of the CLI run.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DIR=outputs/quickstart

phase() {  # a divider between the phases: "── 2/5 Train ... ───"
    local title="── $1 "
    printf '\n%s%s\n' "$title" "$(printf '─%.0s' $(seq $((78 - ${#title}))))"
}

phase "1/5 Set up .venv (torch, Maze and its plugins)"
scripts/setup.sh
echo "ready: $(.venv/bin/maze --version)"

phase "2/5 Train A2C on CartPole-v1 (maze train)"
.venv/bin/maze train --env CartPole-v1 --algorithm a2c --seed 0 --epochs 50 --target-return 475 \
    --set algorithm.gamma=0.99 --set algorithm.lr=0.0007 --set algorithm.n_rollout_steps=20 \
    --set algorithm.epoch_length=10 --set algorithm.patience=0 --set runner.n_envs=8 \
    --run-dir "$RUN_DIR" --overwrite

phase "3/5 Evaluate the best model on 20 fresh episodes (maze evaluate)"
.venv/bin/maze evaluate "$RUN_DIR" --episodes 20

phase "4/5 The original tutorial script (examples/plain_python_training.py)"
echo "A one-epoch demonstration of the Python API with a linear policy: its returns are low."
echo "It trains twice, as the original tutorial does: on the dev runner (envs in this process), then"
echo "on the local runner (envs in worker processes). Its env is given as a function, so the banners"
echo "name that function: cartpole_env_factory (it makes CartPole-v0)."
# The tutorial is kept verbatim, so two warnings about its own choices are filtered here, exactly
# (env workers apply the same filters): it builds CartPole-v0, which gymnasium deprecates in favour
# of CartPole-v1, and it runs 4 local-runner workers, more than a 2-core machine has cores.
.venv/bin/python -c '
import runpy, warnings
import gymnasium  # first: it installs its own filter, which a later one must go before
from maze_core.errors import MazeWarning
warnings.filterwarnings(
    "ignore", message=".*The environment CartPole-v0 is out of date", category=DeprecationWarning
)
warnings.filterwarnings("ignore", message="the local runner will step its envs in", category=MazeWarning)
runpy.run_path("examples/plain_python_training.py", run_name="__main__")'

phase "5/5 Summary"
# deterministic evaluation with the run's seed: the same episodes, so the same numbers as phase 3
.venv/bin/maze evaluate "$RUN_DIR" --episodes 20 --json | .venv/bin/python scripts/quickstart_summary.py "$RUN_DIR"
