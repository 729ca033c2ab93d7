"""The last words of scripts/quickstart.sh: the CLI run's numbers, from its stats.jsonl and from the
``maze evaluate --json`` output on stdin (so they are exactly what ``maze evaluate`` reports)."""

import json
import shlex
import sys
from pathlib import Path

run_dir = Path(sys.argv[1])
evaluation = json.load(sys.stdin)
lines = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines() if line]
last = lines[-1]
best = max(lines, key=lambda line: line["eval"]["episode_return_mean"])  # the first best, as kept
quoted = shlex.quote(str(run_dir))
print(f"maze train:     {run_dir}: {last['epoch']} epochs, {last['algorithm']['env_steps']:,} env steps,")
best_return = best["eval"]["episode_return_mean"]
print(f"                best mean evaluation return {best_return:.2f} (epoch {best['epoch']})")
print(
    f"maze evaluate:  {evaluation['episode_count']} fresh episodes, mean return "
    f"{evaluation['episode_return_mean']:.2f} (min {evaluation['episode_return_min']:.2f}, "
    f"max {evaluation['episode_return_max']:.2f})"
)
print(f"Learning curve: {run_dir / 'curve.png'}")
# the commands as typed in a new shell, where the venv (and so `maze`) is not active yet
print("Next:           source .venv/bin/activate")
print(f"                maze evaluate {quoted} --episodes 100")
print(f"                maze plot {quoted} --x time -o {shlex.quote(str(run_dir / 'curve-time.png'))}")
print(f"                tensorboard --logdir {quoted}")
