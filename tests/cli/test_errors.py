"""Errors that say what is missing and what to do."""

from __future__ import annotations

import importlib.util
import json

import pytest
from shell import maze

from maze_core import RunContext
from maze_core.errors import ConfigurationError, UnknownNameError


@pytest.mark.skipif(importlib.util.find_spec("ale_py") is not None, reason="ale-py is installed")
def test_an_atari_id_without_ale_py_says_which_package_to_install():
    with pytest.raises(UnknownNameError, match=r"'ALE/Pong-v5'.*package 'ale-py'.*pip install ale-py"):
        RunContext(env="ALE/Pong-v5")


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
