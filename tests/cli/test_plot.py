"""``maze plot``: learning curves of real runs, as image files; matplotlib only where it is needed."""

from __future__ import annotations

import subprocess
import sys

import pytest
from shell import maze

TINY = [
    *("--set", "algorithm.epoch_length=2"),
    *("--set", "algorithm.n_rollout_steps=4"),
    *("--set", "runner.n_envs=1"),
    *("--set", "runner.eval_episodes=1"),
]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two seeds of the same setup (one curve with a band) and one curve per run is drawn."""
    root = tmp_path_factory.mktemp("runs")
    runs = [root / "seed0", root / "seed1"]
    for seed, run_dir in enumerate(runs):
        maze("train", "--env", "CartPole-v1", "--epochs", "3", "--seed", seed, "--run-dir", run_dir, *TINY)
    return runs


def test_plot_of_two_runs_writes_a_png_with_a_drawn_curve(two_runs, tmp_path):
    from matplotlib.image import imread

    output = tmp_path / "curves.png"
    result = maze("plot", *two_runs, "--output", output)
    assert f"Wrote {output}" in result.stdout
    image = imread(output)  # RGBA floats in [0, 1]
    assert image.shape[:2] == (450, 800)
    rgb = image[..., :3]
    white = (rgb > 0.97).all(axis=-1)
    assert 0.02 < 1 - white.mean() < 0.6  # axes, labels and a curve, on a mostly white figure
    colourful = rgb.max(axis=-1) - rgb.min(axis=-1) > 0.3  # the curve and its band (not grey axes)
    assert colourful.sum() > 500
    assert list(tmp_path.iterdir()) == [output]  # no temporary file left behind


def test_plot_writes_svg_by_the_suffix_and_against_wall_time(two_runs, tmp_path):
    output = tmp_path / "curves.svg"
    maze("plot", *two_runs, "-o", output, "--x", "time")
    text = output.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text and "wall time" in text


def test_train_leaves_a_curve_in_the_run_directory(two_runs):
    assert all((run_dir / "curve.png").stat().st_size > 10_000 for run_dir in two_runs)


def test_runs_of_different_envs_get_a_panel_each_and_the_band_says_what_it_spans(two_runs, tmp_path):
    from maze_core import RunContext

    pendulum = tmp_path / "pendulum"
    overrides = {
        "algorithm.epoch_length": 2,
        "algorithm.n_rollout_steps": 4,
        "runner.n_envs": 1,
        "runner.eval_episodes": 1,
    }
    with RunContext(env="Pendulum-v1", overrides=overrides, run_dir=pendulum, seed=0, silent=True) as run:
        run.train(n_epochs=2)
    output = tmp_path / "envs.svg"
    printed = " ".join(maze("plot", *two_runs, pendulum, "-o", output).stdout.split())
    assert "of 2 envs (CartPole-v1, Pendulum-v1), whose returns do not compare: one panel each" in printed
    assert "its band spans their lowest to highest (band min–max)" in printed
    figure = output.read_text()
    assert figure.count("mean evaluation return") == 2  # the y axis of each panel
    assert "CartPole-v1 a2c (mean of 2 runs, band min–max)" in figure  # the legend


def test_plot_errors_are_one_line(two_runs, tmp_path):
    several = maze("plot", *two_runs, check=False)
    assert several.returncode == 1 and "--output" in several.stderr
    wrong = maze("plot", two_runs[0], "-o", tmp_path / "curve.jpg", check=False)
    assert wrong.returncode == 1 and ".png, .svg or .pdf" in wrong.stderr
    missing = maze("plot", tmp_path / "nothing", check=False)
    assert missing.returncode == 1 and "does not exist" in missing.stderr


@pytest.mark.parametrize(
    "code",
    [
        "import maze_core, maze_core.run_context, maze_core.training.trainer, maze_core.training.writers",
        "from maze_core.cli import app; app(['plugins', 'list'], standalone_mode=False)",
    ],
    ids=["training", "plugins-list"],
)
def test_matplotlib_stays_out_of_training_and_plugins_list(code):
    check = f"{code}\nimport sys\nassert 'matplotlib' not in sys.modules, 'matplotlib was imported'"
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_mean_and_band_cover_the_range_every_run_reached():
    import numpy as np

    from maze_core.plot import RunCurve, mean_and_band

    short = RunCurve(None, "g", "a", np.array([0.0, 10.0]), np.array([0.0, 10.0]))
    long = RunCurve(None, "g", "a", np.array([0.0, 10.0, 20.0]), np.array([0.0, 20.0, 40.0]))
    grid, mean, low, high = mean_and_band([short, long])
    assert grid.tolist() == [0.0, 10.0]  # the evaluations, up to the shorter run's end
    assert mean.tolist() == [0.0, 15.0]
    assert low.tolist() == [0.0, 10.0] and high.tolist() == [0.0, 20.0]
    shifted = RunCurve(None, "g", "a", np.array([5.0, 15.0]), np.array([10.0, 30.0]))
    grid, mean, _, _ = mean_and_band([long, shifted])  # evaluated at other steps: interpolated
    assert grid.tolist() == [5.0, 10.0, 15.0] and mean.tolist() == [10.0, 20.0, 30.0]
