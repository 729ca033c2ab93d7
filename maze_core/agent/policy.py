"""The policy: networks producing logits, and a distribution mapper turning them into actions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from maze_core.agent.observations import flatten_batch, restore_batch, to_tensor_dict
from maze_core.agent.torch_model import TorchModel
from maze_core.distributions import DictProbabilityDistribution, DistributionMapper
from maze_core.distributions.masks import mask_logits, maskable_heads


class TorchPolicy(TorchModel):
    """A stochastic policy over dict observations and dict actions.

    :param networks: ``{step_key: network}``, plus ``{(step_key, agent_id): network}`` for the
        step keys in ``substeps_with_separate_agent_nets``. Each network maps an observation dict
        to ``{action_head: logits}`` (other output keys are ignored).
    :param distribution_mapper: turns the logits into a distribution per action head.
    :param obs_spaces_dict: optional ``{step_key: Dict space}``; with it, networks always get inputs
        with exactly one batch dim (see :class:`~maze_core.agent.torch_model.TorchModel`).

    ``state_dict()`` is ``{"policies": {network key: state dict}}``.
    """

    state_dict_key = "policies"

    def __init__(
        self,
        networks: Mapping[Any, nn.Module],
        distribution_mapper: DistributionMapper,
        device: str | torch.device = "cpu",
        substeps_with_separate_agent_nets=(),
        obs_spaces_dict: Mapping[Any, gym.spaces.Dict] | None = None,
    ):
        super().__init__(networks, device, substeps_with_separate_agent_nets, obs_spaces_dict)
        self.distribution_mapper = distribution_mapper
        self._action_heads = frozenset(distribution_mapper.action_heads)
        # {head: (mask key, segments checked)} of the heads an observation may carry a mask for
        self._masks = maskable_heads(distribution_mapper.action_space)

    #: Gaussian action noise for exploration (TD3, DDPG): when set, :meth:`sample_action` returns
    #: the deterministic action plus noise with this standard deviation, in units of each Box
    #: head's half-range, clipped into its bounds (other heads are sampled as usual); None: off
    action_noise: float | None = None

    def exploration_state(self) -> dict[str, Any]:
        """What the behaviour policy explores with besides its weights (a distributed runner sends
        it to its workers with the weights): the :attr:`action_noise` if set."""
        return {} if self.action_noise is None else {"action_noise": self.action_noise}

    def load_exploration_state(self, state: Mapping[str, Any]) -> None:
        """Take over an :meth:`exploration_state` (on a remote worker)."""
        self.action_noise = state.get("action_noise")

    def compute_action(
        self, observation: Mapping[str, Any], actor_id=None, deterministic: bool = False, memory=None
    ) -> dict[str, np.ndarray]:
        """Actions ``{head: array}`` for an observation dict of numpy arrays or tensors.

        The observation may be a single one, a batch or a (time, envs) batch; the actions have the
        same batch shape, inside the bounds of Box heads. The observation dict is not modified.
        ``deterministic`` takes each distribution's mode instead of sampling. A recurrent policy
        acts from ``memory`` (a :class:`~maze_core.agent.memory.RecurrentMemory`, one step of each
        env in the batch) and leaves its new state there.
        """
        if not torch.is_inference_mode_enabled():  # a rollout collector has enabled it already
            with torch.inference_mode():
                return self.compute_action(observation, actor_id, deterministic, memory)
        distribution = self.distribution(observation, actor_id, memory=memory)
        actions = distribution.deterministic_sample() if deterministic else distribution.sample()
        return _numpy(actions)

    def sample_action(
        self, observation: Mapping[str, Any], actor_id=None, log_prob: bool = True, memory=None
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray | None]:
        """A random action and what training needs to re-evaluate it exactly, as numpy arrays:
        ``(actions, latents, log_prob)``: ``actions`` are what the env gets (inside a bounded Box),
        ``latents`` the samples they were made from where those differ (the pre-squash sample of a
        squashed Gaussian, the unclipped one of a Gaussian; see
        :meth:`DictProbabilityDistribution.sample_with_latents`), ``log_prob`` the joint log-prob of
        what was sampled. The argument ``log_prob`` False skips it (None), which an algorithm without
        off-policy corrections never reads. ``memory`` as for :meth:`compute_action`."""
        if not torch.is_inference_mode_enabled():
            with torch.inference_mode():
                return self.sample_action(observation, actor_id, log_prob, memory)
        distribution = self.distribution(observation, actor_id, memory=memory)
        if self.action_noise is not None:
            if log_prob:
                raise ValueError(
                    "a policy with action_noise has no log-prob for its actions: algorithms that "
                    "read the behaviour log-probs (on-policy ones) cannot use action noise"
                )
            return self._noised(distribution), {}, None
        actions, latents = distribution.sample_with_latents()
        log_probs = distribution.log_prob(actions, latents).cpu().numpy() if log_prob else None
        return _numpy(actions), _numpy(latents), log_probs

    def _noised(self, distribution) -> dict[str, np.ndarray]:
        """Deterministic actions with Gaussian noise on the Box heads, clipped into their bounds."""
        spaces = self.distribution_mapper.action_space.spaces
        actions = {}
        for head, head_distribution in distribution.items():
            space = spaces[head]
            if not isinstance(space, gym.spaces.Box):
                actions[head] = head_distribution.sample().cpu().numpy()
                continue
            action = head_distribution.deterministic_sample().cpu().numpy()
            half_range = np.where(np.isfinite(space.high - space.low), (space.high - space.low) / 2, 1.0)
            noise = torch.randn(action.shape).numpy() * self.action_noise * half_range
            actions[head] = np.clip(action + noise, space.low, space.high).astype(action.dtype)
        return actions

    def distribution(
        self, obs_tensors: Mapping[str, Any], actor_id=None, temperature: float = 1.0, memory=None
    ) -> DictProbabilityDistribution:
        """The action distribution for observations of any batch shape, with gradients (for losses)."""
        return self.distribution_mapper.logits_dict_to_distribution(
            self.compute_logits(obs_tensors, actor_id, memory), temperature
        )

    def compute_logits(
        self, observation: Mapping[str, Any], actor_id=None, memory=None
    ) -> dict[str, torch.Tensor]:
        """The network's logits ``{head: tensor}`` (with gradients), with the observation's batch
        shape; where the observation carries a head's action mask, invalid actions' logits are set
        to the lowest float (see :mod:`maze_core.distributions.masks`)."""
        network_key, step_key = self._route(actor_id)
        observation = to_tensor_dict(observation, self.device)
        observation, batch_shape = flatten_batch(observation, self._feature_ranks.get(step_key))
        heads, masks = self._action_heads, self._masks
        logits = {}
        for head, head_logits in self._run_network(network_key, observation, actor_id, memory).items():
            if head not in heads:
                continue
            if head in masks and masks[head][0] in observation:
                key, segments = masks[head]
                head_logits = mask_logits(head_logits, observation[key], head, segments)
            logits[head] = restore_batch(head_logits, batch_shape)
        return logits

    def __repr__(self) -> str:
        networks = ", ".join(f"{key!r}: {type(net).__name__}" for key, net in self._networks.items())
        return f"TorchPolicy(networks={{{networks}}}, device={self.device})"


def _numpy(tensors: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {key: tensor.cpu().numpy() for key, tensor in tensors.items()}
