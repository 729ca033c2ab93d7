"""``RunContext.export`` and ``maze export``: the exported file acts as
``RunContext.compute_action(..., deterministic=True)`` does on 1,000 recorded observations, run in
onnxruntime and in TorchScript, for discrete, continuous (normalized, clipped and squashed), Dict
and masked envs; errors are one line."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import warnings
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch
from dummy_envs import DictEnv, TwoStepEnv
from shell import maze, run

from maze_core import RunContext
from maze_core.errors import ConfigurationError
from maze_core.export import read_metadata

onnxruntime = pytest.importorskip("onnxruntime")

EXAMPLE = Path(__file__).parents[2] / "examples" / "run_exported_policy.py"
QUICK = {
    "algorithm.epoch_length": 2,
    "algorithm.n_rollout_steps": 16,
    "runner.n_envs": 2,
    "runner.eval_episodes": 1,
    "runner.n_eval_envs": 1,
    "model.hidden_units": [32, 32],
}
QUICK_OFF_POLICY = {
    "algorithm.epoch_length": 4,
    "algorithm.train_freq": 10,
    "algorithm.gradient_steps": 1,
    "algorithm.learning_starts": 20,
    "algorithm.batch_size": 8,
    "runner.n_envs": 2,
    "runner.eval_episodes": 1,
    "runner.n_eval_envs": 1,
}
NORMALIZED = {"runner.normalize_observations": True}


def example_module():
    spec = importlib.util.spec_from_file_location("run_exported_policy", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recorded_observations(make_env, n: int = 1000, seed: int = 0):
    """``n`` observations of the env (its own form) under random actions, stacked."""
    env = make_env()
    env.action_space.seed(seed)
    observation, _ = env.reset(seed=seed)
    observations = []
    for _ in range(n):
        observations.append(observation)
        observation, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            observation, _ = env.reset()
    env.close()
    if isinstance(observations[0], dict):
        return {key: np.stack([o[key] for o in observations]) for key in observations[0]}
    return np.stack(observations)


def onnx_actions(path: Path, observations) -> dict[str, np.ndarray]:
    """The file run by plain onnxruntime, fed as its metadata says."""
    session = onnxruntime.InferenceSession(str(path))
    metadata = json.loads(session.get_modelmeta().custom_metadata_map["maze"])
    if metadata["observation_form"] == "array":
        observations = {"observation": observations}
    feeds = {spec["name"]: observations[spec["name"]].astype(spec["dtype"]) for spec in metadata["inputs"]}
    names = [spec["name"] for spec in metadata["outputs"]]
    return dict(zip(names, session.run(names, feeds), strict=True))


def torchscript_actions(path: Path, observations) -> dict[str, np.ndarray]:
    extra = {"maze.json": ""}
    with warnings.catch_warnings():  # torch 2.13 marks torch.jit deprecated; it still works
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(str(path), _extra_files=extra)
    metadata = json.loads(extra["maze.json"])
    if metadata["observation_form"] == "array":
        observations = {"observation": observations}
    inputs = [
        torch.from_numpy(observations[spec["name"]].astype(spec["dtype"])) for spec in metadata["inputs"]
    ]
    outputs = module(*inputs)
    return {spec["name"]: tensor.numpy() for spec, tensor in zip(metadata["outputs"], outputs, strict=True)}


def as_heads(action) -> dict[str, np.ndarray]:
    return action if isinstance(action, dict) else {"action": action}


def assert_same_actions(exported: dict, expected: dict) -> None:
    assert exported.keys() == expected.keys()
    for head, action in expected.items():
        action = np.asarray(action)
        assert exported[head].dtype == action.dtype, head
        if np.issubdtype(action.dtype, np.floating):
            np.testing.assert_allclose(exported[head], action, rtol=0, atol=1e-5, err_msg=head)
        else:
            np.testing.assert_array_equal(exported[head], action, err_msg=head)


def check_parity(rc: RunContext, make_env, tmp_path: Path) -> dict:
    """Both formats act on 1,000 observations as compute_action does, and the standalone runner
    on single observations; returns the ONNX file's metadata."""
    observations = recorded_observations(make_env)
    expected = as_heads(rc.compute_action(observations, deterministic=True))
    onnx_file = rc.export(tmp_path / "policy.onnx")
    assert_same_actions(onnx_actions(onnx_file, observations), expected)
    assert_same_actions(torchscript_actions(rc.export(format="torchscript"), observations), expected)
    policy = example_module().ExportedPolicy(str(onnx_file))
    for i in range(0, 1000, 100):
        single = (
            {k: v[i] for k, v in observations.items()} if isinstance(observations, dict) else observations[i]
        )
        assert_same_actions(
            as_heads(policy.act(single)), as_heads(rc.compute_action(single, deterministic=True))
        )
    return policy.metadata


def trained(env, algorithm: str, overrides: dict, tmp_path: Path) -> RunContext:
    rc = RunContext(
        env=env, algorithm=algorithm, overrides=overrides, run_dir=tmp_path / "run", seed=0, silent=True
    )
    rc.train(n_epochs=1)
    return rc


@pytest.fixture(scope="module")
def cartpole_run(tmp_path_factory) -> Path:
    """The run directory of a short CartPole run (A2C)."""
    directory = tmp_path_factory.mktemp("cartpole")
    trained("CartPole-v1", "a2c", QUICK, directory).close()
    return directory / "run"


def test_cartpole_argmax(cartpole_run, tmp_path):
    with RunContext.from_run_dir(cartpole_run, silent=True) as rc:
        metadata = check_parity(rc, lambda: gymnasium.make("CartPole-v1"), tmp_path)
    assert metadata["observation_form"] == metadata["action_form"] == "array"
    assert [(o["name"], o["dtype"], o["n"]) for o in metadata["outputs"]] == [("action", "int64", 2)]
    assert (cartpole_run / "policy.pt").exists()  # the default path


@pytest.mark.parametrize(
    "algorithm, overrides",
    [("a2c", QUICK), ("sac", {**QUICK_OFF_POLICY, "model.hidden_units": [32, 32]})],
    ids=["clipped-gaussian", "squashed-gaussian"],
)
def test_pendulum_normalized_and_bounded(algorithm, overrides, tmp_path):
    with trained("Pendulum-v1", algorithm, {**overrides, **NORMALIZED}, tmp_path) as rc:
        # large weights: actions hit the bounds (clipped) or saturate (squashed) for many observations
        torch.manual_seed(0)
        with torch.no_grad():
            for parameter in rc.policy.networks[0].parameters():
                parameter.normal_()
        observations = recorded_observations(lambda: gymnasium.make("Pendulum-v1"))
        actions = rc.compute_action(observations, deterministic=True)
        assert 0.1 < np.mean(np.abs(actions) > 1.99) < 0.9
        metadata = check_parity(rc, lambda: gymnasium.make("Pendulum-v1"), tmp_path)
    assert metadata["normalized_observations"] == ["observation"]
    assert metadata["outputs"][0]["low"] == [-2.0] and metadata["outputs"][0]["space"] == "Box"


def test_dict_observations_and_two_heads(tmp_path):
    with trained(DictEnv, "a2c", QUICK, tmp_path) as rc:
        metadata = check_parity(rc, DictEnv, tmp_path)
    assert metadata["observation_form"] == metadata["action_form"] == "dict"
    assert [(i["name"], i["shape"]) for i in metadata["inputs"]] == [("position", [3]), ("grid", [2, 4])]
    assert [o["name"] for o in metadata["outputs"]] == ["choice", "force"]


@pytest.mark.parametrize("algorithm", ["ppo", "dqn"])
def test_action_masks_are_inputs_and_applied(algorithm, masked_choice, tmp_path):
    overrides = QUICK_OFF_POLICY if algorithm == "dqn" else QUICK
    with trained(masked_choice.masked_choice_env, algorithm, overrides, tmp_path) as rc:
        metadata = check_parity(rc, masked_choice.masked_choice_env, tmp_path)
        observations = recorded_observations(masked_choice.masked_choice_env)
        actions = onnx_actions(tmp_path / "policy.onnx", observations)["action"]
        assert observations["action_mask"][np.arange(1000), actions].all()
        # without the mask's input the network's favourite actions are mostly invalid ones
        observations["action_mask"][:] = 1
        unmasked = onnx_actions(tmp_path / "policy.onnx", observations)["action"]
    assert (unmasked != actions).mean() > 0.5
    assert [i["name"] for i in metadata["inputs"]] == ["action_mask", "observation"]


def test_maze_export_and_the_standalone_runner_without_torch_or_maze(cartpole_run, tmp_path, monkeypatch):
    path = tmp_path / "cartpole.onnx"
    result = maze("export", cartpole_run, "--output", path)
    assert result.stdout.splitlines() == [
        f"Wrote {path} (ONNX, {path.stat().st_size / 1024:,.1f} KiB)",
        "Inputs:  observation float32 (batch, 4)",
        "Outputs: action int64 (batch)",
    ]
    code = (
        f"import runpy, sys; sys.argv = ['run', {str(path)!r}, '--env', 'CartPole-v1', '--episodes', '2']\n"
        f"runpy.run_path({str(EXAMPLE)!r}, run_name='__main__')\n"
        "assert not {'torch', 'maze_core'} & set(sys.modules), sorted(sys.modules)\n"
    )
    assert run(sys.executable, "-c", code).stdout.count("episode ") == 2
    # a damaged file, and an ONNX file without Maze's metadata: one-line errors
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    monkeypatch.setattr(sys, "argv", ["run_exported_policy.py", str(path), "--env", "CartPole-v1"])
    with pytest.raises(SystemExit, match=f"^Error: {path} is not a readable ONNX file: .*INVALID_PROTOBUF"):
        example_module().main()
    with pytest.raises(ConfigurationError, match="cartpole.onnx is not a file `maze export` wrote: "):
        read_metadata(path)
    onnx = pytest.importorskip("onnx")
    model = onnx.load_from_string(data)
    del model.metadata_props[:]
    path.write_bytes(model.SerializeToString())
    with pytest.raises(ValueError, match="is an ONNX model, but not one `maze export` wrote"):
        example_module().ExportedPolicy(str(path))


def test_a_run_without_a_best_model_is_a_one_line_error(cartpole_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(cartpole_run, copy, ignore=shutil.ignore_patterns("state_dict.pt", ".maze.lock"))
    with RunContext.from_run_dir(copy, silent=True) as rc:
        with pytest.raises(
            ConfigurationError, match="state_dict.pt does not exist: the run has not saved a best"
        ):
            rc.export()


def test_unsupported_policies_are_refused_in_one_line(tmp_path):
    with trained(TwoStepEnv, "a2c", QUICK, tmp_path) as rc:
        with pytest.raises(
            ConfigurationError, match="one network per actor .* export supports envs with one actor"
        ):
            rc.export()
    overrides = {**QUICK, "model.recurrent": "gru", "model.hidden_units": [8]}
    with trained("CartPole-v1", "a2c", overrides, tmp_path / "recurrent") as rc:
        with pytest.raises(ConfigurationError, match="recurrent .* export supports feed-forward policies"):
            rc.export()
        with pytest.raises(
            ConfigurationError, match="format 'tflite' is unknown: choose one of onnx, torchscript"
        ):
            rc.export(format="tflite")
