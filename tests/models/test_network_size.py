"""The default networks' size and activation, for policy and critic together (``model.*``) and
apart (``policy.*``, ``critic.*``), from Python and the CLI, for every first-party algorithm."""

from __future__ import annotations

import json

import pytest
import torch
from shell import maze
from torch import nn

from maze_core import GymMazeEnv, RunContext
from maze_core.errors import ConfigurationError
from maze_core.overrides import parse_overrides

#: one short epoch, one env, one evaluation episode
TINY = {"runner.n_envs": 1, "runner.eval_episodes": 1, "runner.n_eval_envs": 1, "algorithm.epoch_length": 1}
TINY_ON_POLICY = {**TINY, "algorithm.n_rollout_steps": 8}
TINY_OFF_POLICY = {
    **TINY,
    "algorithm.learning_starts": 4,
    "algorithm.train_freq": 4,
    "algorithm.gradient_steps": 1,
    "algorithm.batch_size": 4,
    "algorithm.buffer_size": 100,
}


def trained_shapes(run_dir, env: str, algorithm: str, overrides: dict) -> dict[str, tuple]:
    """``{parameter: shape}`` of the best model a one-epoch run saved (``state_dict.pt``)."""
    RunContext(env=env, algorithm=algorithm, run_dir=run_dir, seed=0, silent=True, overrides=overrides).train(
        n_epochs=1
    )
    state = torch.load(run_dir / "state_dict.pt", weights_only=True)
    return {
        f"{part}.{key}.{name}": tuple(value.shape)
        for part in ("policies", "critics")
        for key, network in state[part].items()
        for name, value in network.items()
    }


def test_model_section_sizes_policy_and_critic_and_each_part_can_differ(tmp_path):
    shapes = trained_shapes(
        tmp_path / "run",
        "CartPole-v1",
        "ppo",
        {
            **TINY_ON_POLICY,
            "model.hidden_units": [16, 16],
            "model.activation": "relu",
            "critic.hidden_units": [8],
        },
    )
    assert shapes["policies.0.latent_net.0.weight"] == (16, 4)
    assert shapes["policies.0.latent_net.2.weight"] == (16, 16)
    assert shapes["critics.0.latent_net.0.weight"] == (8, 4)  # the part's own setting wins
    assert "critics.0.latent_net.2.weight" not in shapes
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["policy"] == {"name": "probabilistic", "hidden_units": [16, 16], "activation": "relu"}
    assert config["critic"] == {"name": "step_state", "hidden_units": [8], "activation": "relu"}


def test_dqn_sizes_its_q_network_and_sac_its_policy_and_twin_critics(tmp_path):
    # DQN's q_greedy policy acts with the critic's network: model.* sizes that one
    dqn = trained_shapes(
        tmp_path / "dqn", "CartPole-v1", "dqn", {**TINY_OFF_POLICY, "model.hidden_units": [32]}
    )
    assert dqn == {
        "critics.0.0.latent_net.0.weight": (32, 4),
        "critics.0.0.latent_net.0.bias": (32,),
        "critics.0.0.q_head.weight": (2, 32),
        "critics.0.0.q_head.bias": (2,),
    }
    sac = trained_shapes(
        tmp_path / "sac", "Pendulum-v1", "sac", {**TINY_OFF_POLICY, "model.hidden_units": [24, 24]}
    )
    assert sac["policies.0.latent_net.2.weight"] == (24, 24)
    for critic in (0, 1):  # the algorithm's twin critics keep their n_critics
        assert sac[f"critics.0.{critic}.latent_net.0.weight"] == (24, 3 + 1)  # observation and action


def test_the_cli_types_the_model_section_and_refuses_layer_sizes_as_networks():
    names = {"algorithm": "a2c", "policy": "probabilistic", "critic": "step_state", "runner": "dev"}
    assert parse_overrides(["model.hidden_units=[12, 12]", "model.activation=elu"], names) == {
        "model.hidden_units": [12, 12],
        "model.activation": "elu",
    }
    wrong = maze("train", "--env", "CartPole-v1", "--set", "policy.networks=[64,64]", check=False)
    assert wrong.returncode == 1
    assert wrong.stderr.startswith("Error: policy.networks=[64, 64] looks like layer sizes")
    assert "(--set policy.hidden_units=[64,64], critic.hidden_units, or model.hidden_units" in wrong.stderr
    assert wrong.stderr.replace("\n", " ").count("Error:") == 1


NAMES = {"algorithm": "ppo", "policy": "probabilistic", "critic": "step_state", "runner": "dev"}


@pytest.mark.parametrize(
    ("assignment", "names", "message"),
    [
        ("policy.net_arch=[64,64]", NAMES, "ProbabilisticPolicyComposer calls it hidden_units."),
        ("critic.activation_fn=relu", NAMES, "StepStateCriticComposer calls it activation."),
        ("model.networks=[64]", NAMES, "Networks are given per part: policy.networks, critic.networks."),
        ("model.net_arch=[64]", NAMES, "It is called hidden_units."),
        ("model.hidden_units=64", NAMES, "DefaultNetworks.hidden_units must be a JSON list or none"),
        (
            "policy.hidden_units=[64]",
            {**NAMES, "algorithm": "dqn", "policy": "q_greedy", "critic": "step_state_action"},
            "builds no default networks (q_greedy acts with its critic's): set critic.hidden_units",
        ),
    ],
)
def test_other_spellings_name_the_right_one(assignment, names, message):
    with pytest.raises(ConfigurationError) as error:
        parse_overrides([assignment], names)
    assert message in str(error.value)


def composer(**kwargs):
    from maze_policies import ProbabilisticPolicyComposer

    env = GymMazeEnv("CartPole-v1")
    return ProbabilisticPolicyComposer(
        action_spaces_dict=env.action_spaces_dict,
        observation_spaces_dict=env.observation_spaces_dict,
        **kwargs,
    )


def test_composers_take_the_size_from_python():
    network = composer(hidden_units=[32], activation="torch.nn.Hardswish").networks[0]
    assert [type(layer) for layer in network.latent_net] == [nn.Linear, nn.Hardswish]
    assert network.latent_net[0].out_features == 32


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"networks": [64, 64]}, "networks=[64, 64] looks like layer sizes"),
        ({"networks": 64}, "networks=64 looks like layer sizes"),
        ({"hidden_units": [64, 0]}, "hidden_units=[64, 0] is invalid: give the sizes of the hidden layers"),
        ({"activation": "rleu"}, "activation='rleu' is not known: give one of relu, tanh"),
        (
            {"hidden_units": [8], "networks": ["maze_core.perception.FlattenConcatPolicyNet"]},
            "hidden_units= sizes the default networks, but this one is given",
        ),
    ],
)
def test_bad_sizes_are_one_line_errors(kwargs, message):
    with pytest.raises(ConfigurationError) as error:
        composer(**kwargs)
    assert message in str(error.value)
    assert "\n" not in str(error.value)
