"""Errors that say what is missing and what to do."""

from __future__ import annotations

import importlib.util
import json

import pytest
from shell import clean_env, maze

from maze_core import RunContext
from maze_core.errors import ConfigurationError, UnknownNameError


@pytest.mark.skipif(importlib.util.find_spec("ale_py") is not None, reason="ale-py is installed")
def test_an_atari_id_without_ale_py_says_which_package_to_install():
    with pytest.raises(UnknownNameError, match=r"'ALE/Pong-v5'.*package 'ale-py'.*pip install ale-py"):
        RunContext(env="ALE/Pong-v5")


def test_an_env_whose_optional_package_is_missing_is_one_line_and_leaves_no_directory(tmp_path):
    """LunarLander-v3 needs Box2D: hidden here by a module that fails to import, installed or not."""
    shadow = tmp_path / "shadow"
    (shadow / "Box2D").mkdir(parents=True)
    (shadow / "Box2D" / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    work = tmp_path / "work"
    work.mkdir()
    without_box2d = clean_env(PYTHONPATH=str(shadow))
    for run_dir in ([], ["--run-dir", "run"]):
        result = maze("train", "--env", "LunarLander-v3", *run_dir, cwd=work, env=without_box2d, check=False)
        assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
        assert "'LunarLander-v3' needs an optional package" in result.stderr
        assert 'pip install "gymnasium[box2d]"' in result.stderr
        assert list(work.iterdir()) == []


@pytest.mark.parametrize("algorithm", ["a2c", "ppo", "dqn", "sac"])
def test_every_first_party_algorithm_names_stable_baselines3s_learning_rate(algorithm):
    with pytest.raises(ConfigurationError, match=r"no field 'learning_rate'\. \w+ calls it lr\."):
        RunContext(env="CartPole-v1", algorithm=algorithm, overrides={"algorithm.learning_rate": 1e-3})


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("algorithm.gama", "A2CAlgorithmConfig has no field 'gama'. Did you mean 'gamma'?"),
        ("runner.n_env", "has no field 'n_env'. Did you mean 'n_envs'?"),
        ("policy.network", "has no field 'network'. Did you mean 'networks'?"),
    ],
)
def test_python_overrides_suggest_the_field_as_the_cli_does(override, expected):
    with pytest.raises(ConfigurationError, match=expected.replace("?", r"\?").replace(".", r"\.")):
        RunContext(env="CartPole-v1", overrides={override: 1})


def test_a_run_of_an_uninstalled_plugin_names_the_package_from_its_config(tmp_path):
    config = {
        "env": "gone-corridor",
        "seed": 0,
        "plugins": {"maze-core": "0.1.0", "maze-gone-envs": "1.2.0"},
        "arguments": {"env": "gone-corridor", "algorithm": "a2c", "runner": "dev", "overrides": {}},
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "checkpoint.pt").write_bytes(b"")
    result = maze("evaluate", tmp_path, check=False)
    assert result.returncode == 1
    assert "Unknown env 'gone-corridor'" in result.stderr
    assert "plugins that are not installed now (its config.json records them): maze-gone-envs==1.2.0" in (
        " ".join(result.stderr.split())
    )
