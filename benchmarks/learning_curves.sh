#!/usr/bin/env bash
# The learning curves in docs/benchmarks.md: A2C with B3's tuned CartPole-v1 settings, three seeds,
# a fixed budget of 12 epochs (19,200 env steps; no target return, so every run is drawn whole),
# trained and drawn with the CLI (`maze train`, `maze plot`).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=outputs/learning-curves
for seed in 0 1 2; do
    .venv/bin/maze train --env CartPole-v1 --algorithm a2c --seed "$seed" --epochs 12 \
        --set algorithm.gamma=0.99 --set algorithm.lr=0.0007 --set algorithm.n_rollout_steps=20 \
        --set algorithm.epoch_length=10 --set algorithm.patience=0 --set runner.n_envs=8 \
        --set runner.n_eval_envs=8 --set runner.eval_episodes=8 \
        --run-dir "$RUNS/seed-$seed" --overwrite > "$RUNS-seed-$seed.log"
done
.venv/bin/maze plot "$RUNS"/seed-* -o docs/img/a2c-cartpole-steps.png \
    --title "A2C on CartPole-v1 (B3 settings), 3 seeds: mean and min-max"
.venv/bin/maze plot "$RUNS"/seed-* -o docs/img/a2c-cartpole-time.png --x time \
    --title "The same runs against wall time (dev runner, 2 shared cores)"
