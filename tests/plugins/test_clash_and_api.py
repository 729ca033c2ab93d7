"""Plugins that clash or age, with real pip-installed packages (tests/plugin_packages):

* maze-test-ppo registers algorithm ``ppo`` as maze-ppo does: neither is broken, the listing shows
  the clash, ``maze-ppo:ppo`` / ``maze-test-ppo:ppo`` select one everywhere a name is taken, and the
  bare name is a one-line error listing both;
* maze-test-old-ppo was written against the algorithm API before ``OnPolicyAlgorithmConfig``: it is
  refused before anything is built, in one line naming the plugin and what it lacks.
"""

from __future__ import annotations

import json
import sys

import pytest

from maze_core import RunContext, plugins
from maze_core.errors import PluginError

QUICK = ["--set", "algorithm.epoch_length=2", "--set", "algorithm.n_rollout_steps=8"]
QUICK += ["--set", "runner.n_envs=2", "--set", "runner.eval_episodes=1"]


def by_distribution() -> dict[str, plugins.PluginInfo]:
    return {info.distribution: info for info in plugins.plugins()}


def test_a_clash_breaks_neither_plugin_and_qualified_names_select_one(installed):
    infos = by_distribution()
    for distribution in ("maze-ppo", "maze-test-ppo"):
        assert infos[distribution].status == "ok", infos[distribution].error
    assert infos["maze-ppo"].clashes == [
        "algorithm 'ppo' is also provided by maze-test-ppo: select this one as maze-ppo:ppo"
    ]
    assert plugins.load("algorithm", "maze-ppo:ppo").__name__ == "PPOAlgorithmConfig"
    assert plugins.load("algorithm", "maze-test-ppo:ppo").__name__ == "QuickPPOConfig"
    with pytest.raises(
        PluginError, match=r"choose one by its qualified name: maze-ppo:ppo, maze-test-ppo:ppo$"
    ):
        plugins.load("algorithm", "ppo")
    assert plugins.load("algorithm", "a2c").__name__ == "A2CAlgorithmConfig"  # the others as before


def test_run_context_selects_and_records_a_qualified_algorithm(installed, tmp_path):
    overrides = {"algorithm.epoch_length": 1, "algorithm.n_rollout_steps": 8, "runner.eval_episodes": 1}
    with RunContext(
        env="CartPole-v1",
        algorithm="maze-test-ppo:ppo",
        overrides=overrides,
        run_dir=tmp_path / "run",
        silent=True,
    ) as context:
        context.train(1)
        assert type(context.algorithm).__name__ == "QuickPPOConfig"
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["arguments"]["algorithm"] == "maze-test-ppo:ppo"
    with RunContext.from_run_dir(tmp_path / "run", silent=True) as resumed:
        assert type(resumed.algorithm).__name__ == "QuickPPOConfig"
    # an instance is recorded by the qualified name of its class
    from maze_ppo import PPOAlgorithmConfig

    assert RunContext(env="CartPole-v1", algorithm=PPOAlgorithmConfig()).algorithm_name == "maze-ppo:ppo"


def test_the_cli_with_a_clash(installed, run, clean_env, tmp_path):
    env = clean_env(PYTHONPATH=str(installed))
    maze = (sys.executable, "-m", "maze_core")
    listing = run(*maze, "plugins", "list", env=env).stdout
    assert "maze-ppo:ppo" in listing and "maze-test-ppo:ppo" in listing
    assert "broken" not in listing.split("maze-ppo ")[1].split("\n")[0]
    listed = {
        info["distribution"]: info
        for info in json.loads(run(*maze, "plugins", "list", "--json", env=env).stdout)
    }
    assert listed["maze-test-ppo"]["status"] == "ok" and listed["maze-test-ppo"]["clashes"]

    import subprocess

    bare = subprocess.run(
        [*maze, "train", "--env", "CartPole-v1", "--algorithm", "ppo", "--run-dir", tmp_path / "bare"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bare.returncode == 1 and bare.stderr.count("\n") == 1, bare.stderr
    assert "choose one by its qualified name: maze-ppo:ppo, maze-test-ppo:ppo" in bare.stderr
    run_dir = tmp_path / "qualified"
    run(*maze, "train", "--env", "CartPole-v1", "--algorithm", "maze-ppo:ppo", "--epochs", "1", *QUICK,
        "--set", "algorithm.clip_range=0.1", "--run-dir", run_dir, env=env)  # fmt: skip
    assert json.loads((run_dir / "config.json").read_text())["algorithm"]["name"] == "maze-ppo:ppo"
    run(*maze, "train", "--resume", run_dir, "--epochs", "2", env=env)


def test_a_plugin_written_for_an_older_algorithm_api_is_refused_in_one_line(
    installed, run, clean_env, tmp_path
):
    with pytest.raises(PluginError) as error:
        RunContext(env="CartPole-v1", algorithm="old-ppo")
    message = str(error.value)
    assert message.startswith(
        "algorithm 'old-ppo' of plugin 'maze-test-old-ppo' was written for another Maze algorithm API"
    )
    assert "its PPOAlgorithmConfig does not derive from OnPolicyAlgorithmConfig and lacks "
    assert "lacks lr_schedule, normalize_advantages, optimizer, optimizer_eps;" in message
    assert "docs/plugin-changelog.md" in message

    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "maze_core", "train", "--env", "CartPole-v1", "--algorithm", "old-ppo"],
        env=clean_env(PYTHONPATH=str(installed)),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 1 and result.stderr.startswith("Error: algorithm 'old-ppo'"), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_an_algorithm_that_knows_nothing_of_reset_only_rows_never_gets_them(installed, tmp_path):
    """maze-test-naive averages over every row of the rollouts it gets. On CartPole's native
    next-step vector env, a reset-only row would show as a reward of 0."""
    overrides = {"algorithm.epoch_length": 20, "algorithm.n_rollout_steps": 5, "runner.n_envs": 16}
    with RunContext(
        env="CartPole-v1",
        algorithm="naive-pg",
        overrides={**overrides, "runner.eval_episodes": 1},
        run_dir=tmp_path / "run",
        silent=True,
    ) as context:
        summary = context.train(1)
    stats = json.loads((tmp_path / "run" / "stats.jsonl").read_text().splitlines()[-1])
    algorithm, train = stats["algorithm"], stats["train"]
    assert train["episode_count"] > 16  # episodes ended, so reset-only steps were taken
    assert algorithm["reward_min"] == 1.0
    assert algorithm["rows"] == 20 * 5 * 16
    # the transitions of envs ahead that were left out are env steps all the same
    assert summary.env_steps == algorithm["env_steps"] > 20 * 5 * 16
