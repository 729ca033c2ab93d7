"""The rollout worker: a vector env and a CPU copy of the model, one whole rollout per call.

It is a plain class: the ray runner runs it as a Ray actor (one process per worker, possibly on
another machine), and tests run it in-process. Everything crossing the process boundary is numpy:
weights come in as one flat vector (:func:`flat_weights`), rollouts go out as numpy arrays
(:func:`rollout_to_arrays`), because Ray ships numpy zero-copy and torch tensors several
milliseconds slower per call.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import socket

import numpy as np
import torch

from maze_core.env.native import native_factory
from maze_core.env.vector import SequentialVectorEnv
from maze_core.training.evaluator import RolloutEvaluator
from maze_core.training.rollout import VectorEnvCollector


class RolloutWorker:
    """Steps ``n_envs`` envs with a CPU copy of ``model``; :meth:`collect` returns one rollout.

    :param env_factory: a function creating one env (called ``n_envs`` times).
    :param model: the ``TorchActorCritic`` to act with (a copy is moved to the CPU); its weights are
        replaced by the ones passed to :meth:`collect`.
    :param n_envs: envs stepped together by this worker.
    :param seed: env ``i`` is reset with ``seed + i`` first, and actions are sampled from a torch
        generator seeded with ``seed``; None for unseeded.
    :param step_timeout_s: an env step or reset taking longer raises (see ``SequentialVectorEnv``).
    :param native_vector_env: step a gymnasium id with a native vector implementation natively (as
        the runners' option of that name).

    Made for a process of its own: it sets torch's thread count (1) and seeds torch's generator of
    the process it runs in.
    """

    def __init__(
        self,
        env_factory,
        model,
        n_envs: int,
        seed: int | None = None,
        step_timeout_s: float | None = None,
        native_vector_env: bool = True,
    ):
        torch.set_num_threads(1)  # one core per worker: more threads only contend with the envs
        if seed is not None:
            torch.manual_seed(seed)  # actions are sampled with torch's global generator
        self.model = copy.deepcopy(model).to("cpu")
        self.model.train()
        self.env_factory = env_factory
        self.step_timeout_s = step_timeout_s
        self.native_vector_env = native_vector_env
        self.env = self._make_envs(n_envs)
        self.eval_env = None  # built by the first evaluate()
        self.collector = VectorEnvCollector(self.env, device="cpu", seed=seed)

    def collect(
        self,
        weights: np.ndarray | None,
        n_steps: int,
        keep_reset_rows: bool = False,
        next_observations: bool = False,
        exploration: dict | None = None,
    ) -> dict:
        """Load ``weights`` (a :func:`flat_weights` vector; None keeps the current ones) and the
        policy's ``exploration`` state, collect a rollout of ``n_steps`` transitions per env
        (``keep_reset_rows`` and ``next_observations`` as for
        :meth:`~maze_core.training.rollout.VectorEnvCollector.collect`) and return it and the
        episodes finished meanwhile as arrays."""
        if weights is not None:
            load_flat_weights(self.model, weights)
        if exploration:
            self.model.policy.load_exploration_state(exploration)
        rollout = self.collector.collect(
            self.model, n_steps, keep_reset_rows=keep_reset_rows, next_observations=next_observations
        )
        return {"rollout": rollout_to_arrays(rollout), "episodes": self._finished_episodes()}

    def evaluate(
        self, weights: np.ndarray | None, n_envs: int, n_episodes: int, seed: int | None, deterministic: bool
    ) -> tuple[list[float], list[int]]:
        """Returns and lengths of ``n_episodes`` complete episodes on ``n_envs`` evaluation envs of
        this worker (separate from its training envs; env ``i`` is reset with ``seed + i``)."""
        if weights is not None:
            load_flat_weights(self.model, weights)
        if self.eval_env is None or self.eval_env.n_envs != n_envs:
            if self.eval_env is not None:
                self.eval_env.close()
            self.eval_env = self._make_envs(n_envs)
        evaluator = RolloutEvaluator(self.eval_env, n_episodes=n_episodes, deterministic=deterministic)
        self.model.eval()
        try:
            return evaluator.episodes(self.model.policy, seed)
        finally:
            self.model.train()

    def _make_envs(self, n_envs: int):
        """``n_envs`` envs as one vector env: native where there is a native implementation."""
        vector_env_factory = native_factory(self.env_factory, auto=self.native_vector_env)
        if vector_env_factory is not None:
            return vector_env_factory(n_envs, logging_prefix=None, step_timeout_s=self.step_timeout_s)
        return SequentialVectorEnv([self.env_factory] * n_envs, step_timeout_s=self.step_timeout_s)

    def _finished_episodes(self) -> dict:
        """Returns, lengths and metric values of the episodes finished since the last call."""
        recorder = self.env.episode_recorder
        episodes = {
            "returns": list(recorder.returns),
            "lengths": list(recorder.lengths),
            "metrics": {name: list(values) for name, values in recorder.metrics.items()},
        }
        recorder.clear()
        return episodes

    def describe(self) -> dict:
        """Where this worker runs: its process id and host (for error messages and tests)."""
        return {"pid": os.getpid(), "host": socket.gethostname()}

    def close(self) -> None:
        self.env.close()
        if self.eval_env is not None:
            self.eval_env.close()


# --- weights as one flat vector -----------------------------------------------------------------


def _weight_tensors(model) -> list[torch.Tensor]:
    """The floating-point parameters and buffers of the model's networks, each once, in a fixed
    order (a pickled copy of the model lists its own tensors in the same order)."""
    seen, tensors = set(), []
    for network in (*model.policy.networks.values(), *model.critic.networks.values()):
        for tensor in (*network.parameters(), *network.buffers()):
            if id(tensor) not in seen and tensor.is_floating_point():
                seen.add(id(tensor))
                tensors.append(tensor)
    return tensors


def flat_weights(model) -> np.ndarray:
    """All weights of ``model`` (policy and critic, buffers included) as one flat numpy vector."""
    with torch.no_grad():
        return torch.cat([tensor.detach().reshape(-1) for tensor in _weight_tensors(model)]).cpu().numpy()


def load_flat_weights(model, vector: np.ndarray) -> None:
    """Copy a :func:`flat_weights` vector into ``model`` (which has the same structure)."""
    tensors = _weight_tensors(model)
    sizes = [tensor.numel() for tensor in tensors]
    if sum(sizes) != len(vector):
        raise ValueError(f"got {len(vector)} weights for a model with {sum(sizes)}")
    # a copy: Ray hands over read-only arrays, which torch does not wrap
    source = torch.from_numpy(np.array(vector))
    with torch.no_grad():
        for tensor, chunk in zip(tensors, torch.split(source, sizes), strict=True):
            tensor.copy_(chunk.view_as(tensor))


# --- rollouts as numpy arrays -------------------------------------------------------------------


def rollout_to_arrays(rollout) -> dict:
    """A :class:`~maze_core.training.rollout.Rollout` as nested dicts of numpy arrays it owns:
    ``actors`` (per actor, its :class:`~maze_core.training.rollout.ActorTransitions` fields),
    ``actor_ids``, and every ``(T, N)`` tensor field of the rollout under its name."""
    arrays = {
        "actors": {
            tuple(actor_id): _fields_to_arrays(transitions)
            for actor_id, transitions in rollout.actors.items()
        },
        "actor_ids": [tuple(actor_id) for actor_id in rollout.actor_ids],
        "dropped_transitions": rollout.dropped_transitions,
    }
    for name, value in _fields_to_arrays(rollout).items():
        if isinstance(value, np.ndarray):
            arrays[name] = value
    return arrays


def _fields_to_arrays(instance) -> dict:
    """The tensor and dict-of-tensor fields of a dataclass, as numpy copies."""
    arrays = {}
    for field in dataclasses.fields(instance):
        value = getattr(instance, field.name)
        if isinstance(value, torch.Tensor):
            arrays[field.name] = value.numpy().copy()
        elif isinstance(value, dict) and all(isinstance(v, torch.Tensor) for v in value.values()):
            arrays[field.name] = {key: tensor.numpy().copy() for key, tensor in value.items()}
    return arrays
