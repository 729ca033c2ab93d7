"""Export a policy to one ONNX or TorchScript file that acts as ``RunContext.compute_action(...,
deterministic=True)`` does, for use outside Python training code (see docs/export.md).

The exported graph is the whole way from the env's observation to its action: the observation
normalization the best weights were saved with (computed in float64, as Maze does), the network
with its own Dict-observation flattening, the action masks of the observation (the same
``mask_logits`` the policy applies), and the deterministic action of each head's distribution
(argmax; the Gaussian mean clipped into a Box's bounds, or squashed and scaled into them), cast
to the action space's dtype. It is traced from the policy's own code (``compute_logits`` and
``deterministic_sample``), so it cannot drift from what Maze does.

What a runtime needs besides the graph travels in the file, as JSON under the key ``maze``
(:data:`METADATA_KEY`): the observation keys with their shapes and dtypes, the action heads with
their spaces, whether the env's own observations and actions are single arrays or dicts, and the
format version. ``examples/run_exported_policy.py`` runs a file with only numpy and onnxruntime.
"""

from __future__ import annotations

import copy
import io
import json
import warnings
import zipfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from maze_core import run_dir as run_files
from maze_core.agent.q_policy import QGreedyPolicy
from maze_core.distributions.masks import masked_argmax
from maze_core.env.spaces import MASK_SUFFIX
from maze_core.errors import ConfigurationError

FORMAT_VERSION = 1
METADATA_KEY = "maze"
#: the formats and their files' suffix
FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
#: the file in a TorchScript archive that holds the metadata
TORCHSCRIPT_METADATA = "maze.json"
INSTALL_HINT = 'pip install "maze-core[export]"'
ONNX_OPSET = 17


def default_path(run_dir: Path, format: str) -> Path:
    """Where ``maze export`` writes by default: ``RUN_DIR/policy.onnx`` (``policy.pt``)."""
    return Path(run_dir) / f"policy{FORMATS[check_format(format)]}"


def check_format(format: str) -> str:
    if format not in FORMATS:
        raise ConfigurationError(f"export format {format!r} is unknown: choose one of {', '.join(FORMATS)}")
    return format


def export_policy(
    policy,
    observation_space: gym.spaces.Dict,
    normalization,
    step_key,
    path: str | Path,
    format: str = "onnx",
    gym_conversion=None,
    description: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``policy`` (a feed-forward ``TorchPolicy`` or ``QGreedyPolicy`` of an env with one
    actor) acting deterministically to ``path``; returns the metadata written with it.

    :param observation_space: the policy's observation space (Maze's Dict form).
    :param normalization: the observation :class:`~maze_core.env.normalization.Normalization` the
        policy acts with, or None.
    :param step_key: the env's step key (whose normalization statistics apply).
    :param gym_conversion: the env's :class:`~maze_core.env.gym_env.GymConversion` (None for a
        Maze env): whether its own observations and actions are single arrays.
    :param description: extra metadata (env, algorithm, ...).
    """
    check_format(format)
    if format == "onnx":
        _require_onnx()
    graph = ActingGraph(policy, observation_space, normalization, step_key)
    clash = set(graph.observation_spaces) & set(graph.action_spaces)
    if clash:
        raise ConfigurationError(
            f"the observation keys and action heads share the names {sorted(clash)}; an exported file "
            f"names its inputs and outputs by them, so rename one of them"
        )
    # whether the env's own observation (action) is one array, Maze's key "observation" ("action")
    array_observation = bool(gym_conversion and gym_conversion._wrap_observation)
    array_action = bool(gym_conversion and gym_conversion._wrap_action)
    metadata = {
        "format_version": FORMAT_VERSION,
        "format": format,
        **(description or {}),
        "observation_form": "array" if array_observation else "dict",
        "action_form": "array" if array_action else "dict",
        "normalized_observations": sorted(graph.normalized_keys),
        "inputs": [_describe(key, space) for key, space in graph.observation_spaces.items()],
        "outputs": [_describe(head, space) for head, space in graph.action_spaces.items()],
    }
    example = graph.example_inputs()
    with torch.no_grad(), warnings.catch_warnings():
        # the trace keeps the path the example takes: masks that allow some action, shapes as given
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export")
        warnings.filterwarnings("ignore", message=".*feature will be removed")
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated")  # still works in 2.13
        try:
            data = (_onnx_bytes if format == "onnx" else _torchscript_bytes)(graph, example, metadata)
        except (RuntimeError, TypeError, ValueError) as error:  # what the tracer raises
            raise ConfigurationError(
                f"the policy could not be exported to {format}: {_first_line(error)}"
            ) from None
    run_files.atomic_write(path, lambda file: file.write(data))
    return metadata


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata an exported file holds (either format)."""
    data = run_files.read_bytes(path)
    try:
        if data[:2] == b"PK":  # a TorchScript archive is a zip file
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                name = next(n for n in archive.namelist() if n.endswith(f"/extra/{TORCHSCRIPT_METADATA}"))
                return json.loads(archive.read(name))
        import onnx

        properties = {prop.key: prop.value for prop in onnx.load_from_string(data).metadata_props}
        return json.loads(properties[METADATA_KEY])
    except Exception as error:  # a damaged file: whatever its parser raises
        raise ConfigurationError(f"{path} is not a file `maze export` wrote: {_first_line(error)}") from None


class ActingGraph(nn.Module):
    """The module that is traced: observation tensors in (one per observation key, with a batch
    dim), action tensors out (one per action head, in the action space's dtype)."""

    def __init__(self, policy, observation_space: gym.spaces.Dict, normalization, step_key):
        super().__init__()
        if getattr(policy, "is_recurrent", False):
            raise ConfigurationError(
                "this policy is recurrent (it keeps a hidden state between steps); export supports "
                "feed-forward policies"
            )
        self.policy = policy = copy.deepcopy(policy).to("cpu")  # traced on the CPU, the caller's untouched
        if isinstance(policy, QGreedyPolicy):
            networks = policy.critic.networks
            self.action_spaces = dict(policy.critic.action_space_of(None).space.spaces)
        else:
            networks = policy.networks
            self.action_spaces = dict(policy.distribution_mapper.action_space.spaces)
        if len(networks) != 1:
            raise ConfigurationError(
                f"this policy has one network per actor ({', '.join(map(repr, networks))}); export "
                f"supports envs with one actor"
            )
        self.networks = nn.ModuleList(networks.values())  # so that the trace finds their weights
        self.observation_spaces = dict(observation_space.spaces)
        #: {key: (mean, sqrt(var + epsilon))} in float64, of the normalized observation keys
        self.normalized_keys: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        if normalization is not None and normalization.observations:
            for key, stats in normalization.observation_stats[step_key].items():
                scale = np.sqrt(stats.var + normalization.epsilon)  # as Normalization computes it
                self.normalized_keys[key] = (torch.from_numpy(stats.mean.copy()), torch.from_numpy(scale))
            self.clip = float(normalization.clip_observations)
        self.action_dtypes = {
            head: torch.from_numpy(np.zeros(0, dtype=space.dtype)).dtype
            for head, space in self.action_spaces.items()
        }

    def example_inputs(self) -> tuple[torch.Tensor, ...]:
        """Two observations from the spaces, with every action allowed by the masks."""
        inputs = []
        for key, space in self.observation_spaces.items():
            space = copy.deepcopy(space)
            space.seed(0)
            batch = np.stack([np.asarray(space.sample()) for _ in range(2)])
            if key.endswith(MASK_SUFFIX):
                batch = np.ones_like(batch)
            inputs.append(torch.from_numpy(batch))
        return tuple(inputs)

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        observation = dict(zip(self.observation_spaces, inputs, strict=True))
        for key, (mean, scale) in self.normalized_keys.items():
            value = observation[key]
            normalized = (value.to(torch.float64) - mean) / scale
            observation[key] = normalized.clamp(-self.clip, self.clip).to(value.dtype)
        if isinstance(self.policy, QGreedyPolicy):
            critic = self.policy.critic
            space = critic.action_space_of(None)
            q_values = critic.q_values(observation, n_critics=1)[0]
            actions = {
                space.discrete_head: masked_argmax(q_values, critic.valid_actions(observation)) + space.start
            }
        else:
            actions = self.policy.distribution(observation).deterministic_sample()
        return tuple(actions[head].to(dtype) for head, dtype in self.action_dtypes.items())


def _onnx_bytes(graph: ActingGraph, example: tuple, metadata: dict) -> bytes:
    """The classic (TorchScript-based) exporter: a feed-forward graph needs nothing the dynamo
    exporter adds, and it takes 0.1 s where the dynamo one takes seconds and needs onnxscript."""
    import onnx

    inputs, outputs = list(graph.observation_spaces), list(graph.action_spaces)
    buffer = io.BytesIO()
    torch.onnx.export(
        graph,
        example,
        buffer,
        input_names=inputs,
        output_names=outputs,
        dynamic_axes={name: {0: "batch"} for name in inputs + outputs},
        opset_version=ONNX_OPSET,
        dynamo=False,
    )
    model = onnx.load_from_string(buffer.getvalue())
    model.doc_string = "A Maze policy acting deterministically; metadata under 'maze'."
    onnx.helper.set_model_props(model, {METADATA_KEY: json.dumps(metadata, allow_nan=False)})
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _torchscript_bytes(graph: ActingGraph, example: tuple, metadata: dict) -> bytes:
    traced = torch.jit.trace(graph, example, check_trace=False)
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer, _extra_files={TORCHSCRIPT_METADATA: json.dumps(metadata, allow_nan=False)})
    return buffer.getvalue()


def _describe(name: str, space: gym.Space) -> dict[str, Any]:
    """An input's or output's entry in the metadata: name, per-sample shape, dtype and space."""
    entry = {"name": name, "shape": list(space.shape), "dtype": np.dtype(space.dtype).name}
    entry["space"] = type(space).__name__
    if isinstance(space, gym.spaces.Box):  # null where unbounded (JSON has no infinity)
        entry.update(low=_finite_or_none(space.low), high=_finite_or_none(space.high))
    elif isinstance(space, gym.spaces.Discrete):
        entry.update(n=int(space.n), start=int(space.start))
    elif isinstance(space, gym.spaces.MultiDiscrete):
        entry.update(nvec=space.nvec.tolist(), start=space.start.tolist())
    return entry


def _finite_or_none(values: np.ndarray):
    """Nested lists of the values, None where infinite."""

    def clean(value):
        return (
            [clean(v) for v in value] if isinstance(value, list) else (value if np.isfinite(value) else None)
        )

    return clean(values.astype(np.float64).tolist())


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _require_onnx() -> None:
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ConfigurationError(f"exporting to ONNX needs the onnx package: {INSTALL_HINT}") from None
