"""The greedy (and ε-greedy) policy over a Discrete state-action critic, for value-based algorithms
such as DQN."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from maze_core.agent.q_critics import TorchStateActionCritic
from maze_core.distributions.masks import masked_argmax
from maze_core.errors import ConfigurationError


class QGreedyPolicy:
    """Acts with the action of the highest Q-value of the critic's first Q network, or, with
    probability :attr:`epsilon`, an action drawn uniformly (ε-greedy).

    It has the policy interface rollouts, evaluation and ``RunContext`` use on ``model.policy``, and
    owns no parameters: the weights are the critic's, saved once, under ``"critics"``
    (``state_dict()`` is ``{"policies": {}}``, so checkpoints keep their layout). Its ``train()`` /
    ``eval()`` / ``to()`` act on the critic it acts with. Random draws use torch's global CPU
    generator (seeded and checkpointed by a run), whatever the device, so runs are reproducible.

    :param critic: a :class:`TorchStateActionCritic` whose every step key has one Discrete head.
    :param epsilon: the exploration rate in ``[0, 1]``; an algorithm's schedule sets it as training
        goes (``policy.epsilon = ...``).
    """

    def __init__(self, critic: TorchStateActionCritic, epsilon: float = 0.0):
        if not isinstance(critic, TorchStateActionCritic):
            raise ConfigurationError(
                f"QGreedyPolicy needs a TorchStateActionCritic over Discrete actions, "
                f"got {type(critic).__name__}"
            )
        continuous = {
            key: list(space.action_shapes) for key, space in critic.q_spaces.items() if not space.is_discrete
        }
        if continuous:
            raise ConfigurationError(
                f"QGreedyPolicy needs a critic over one Discrete action head, but it has the Box heads "
                f"{continuous} (by step key); for Box actions use a probabilistic policy (e.g. with SAC)"
            )
        self.critic = critic
        self.epsilon = epsilon

    @property
    def epsilon(self) -> float:
        return self._epsilon

    @epsilon.setter
    def epsilon(self, value: float) -> None:
        value = float(value)
        if not 0.0 <= value <= 1.0:
            raise ConfigurationError(f"QGreedyPolicy epsilon={value!r}: must be in [0, 1]")
        self._epsilon = value

    def exploration_state(self) -> dict[str, float]:
        """What the behaviour policy explores with besides the weights (sent to remote workers)."""
        return {"epsilon": self._epsilon}

    def load_exploration_state(self, state: Mapping[str, float]) -> None:
        self.epsilon = state["epsilon"]

    def compute_action(
        self, observation: Mapping[str, Any], actor_id=None, deterministic: bool = False
    ) -> dict[str, np.ndarray]:
        """Actions ``{head: array}`` with the observation's batch shape: greedy with
        ``deterministic`` (as evaluation acts), else ε-greedy."""
        actions, _ = self._act(observation, actor_id, 0.0 if deterministic else self._epsilon)
        return actions

    def sample_action(
        self, observation: Mapping[str, Any], actor_id=None, log_prob: bool = True
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray | None]:
        """An ε-greedy action as :meth:`TorchPolicy.sample_action` returns one: ``(actions, {},
        log_prob)``, ``log_prob`` being that of the ε-greedy distribution, ``log((1 - ε) + ε / n)``
        for the greedy action and ``log(ε / n)`` for any other, ``n`` the number of (valid) actions
        (None with ``log_prob=False``)."""
        epsilon = self._epsilon
        actions, greedy = self._act(observation, actor_id, epsilon)
        if not log_prob:
            return actions, {}, None
        n = self._n_valid(observation, actor_id)
        head = next(iter(actions))
        chosen_greedy = actions[head] == greedy
        with np.errstate(divide="ignore"):
            log_probs = np.where(
                chosen_greedy, np.log((1.0 - epsilon) + epsilon / n), np.log(epsilon / n)
            ).astype(np.float32)
        return actions, {}, log_probs

    def _n_valid(self, observation, actor_id) -> np.ndarray | int:
        """How many actions ε-exploration draws from, per sample: the valid ones if masked."""
        valid = self.critic.valid_actions(observation, actor_id)
        if valid is None:
            return self.critic.action_space_of(actor_id).n_actions
        return valid.sum(dim=-1).cpu().numpy()

    def _act(self, observation, actor_id, epsilon: float) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The actions and the greedy actions (numpy)."""
        space = self.critic.action_space_of(actor_id)
        with torch.inference_mode():
            q = self.critic.q_values(observation, actor_id, n_critics=1)[0]
            valid = self.critic.valid_actions(observation, actor_id)
            greedy = masked_argmax(q, valid).cpu()
            action = greedy
            if epsilon > 0.0:  # drawn on the CPU: one random stream whatever the device
                explore = torch.rand(greedy.shape) < epsilon
                action = torch.where(explore, self._uniform(greedy.shape, space.n_actions, valid), greedy)
            return {space.discrete_head: (action + space.start).numpy()}, (greedy + space.start).numpy()

    @staticmethod
    def _uniform(shape, n_actions: int, valid: torch.Tensor | None) -> torch.Tensor:
        """An action index drawn uniformly per sample, from the valid actions if masked."""
        if valid is None:
            return torch.randint(n_actions, shape)
        weights = valid.cpu().float().reshape(-1, n_actions)
        return torch.multinomial(weights, 1).reshape(shape)

    # --- the model interface: everything is the critic's ----------------------------------------

    @property
    def device(self) -> torch.device:
        return self.critic.device

    @property
    def networks(self) -> dict[Any, nn.Module]:
        """None of its own (the critic's networks are ``critic.networks``)."""
        return {}

    @property
    def training(self) -> bool:
        return any(net.training for nets in self.critic.networks.values() for net in nets)

    def parameters(self) -> Iterator[nn.Parameter]:
        """None: the weights it acts with are the critic's, trained as the critic."""
        return iter(())

    def state_dict(self) -> dict[str, dict]:
        return {"policies": {}}

    def load_state_dict(self, state_dict: Mapping[Any, Any]) -> None:
        """Loads the critic from a full model state dict (``{"policies": ..., "critics": ...}``);
        anything without ``"critics"`` (its own ``{"policies": {}}``) has nothing to load."""
        if TorchStateActionCritic.state_dict_key in state_dict:
            self.critic.load_state_dict(state_dict)

    def to(self, device: str | torch.device) -> QGreedyPolicy:
        self.critic.to(device)
        return self

    def train(self, mode: bool = True) -> QGreedyPolicy:
        self.critic.train(mode)
        return self

    def eval(self) -> QGreedyPolicy:
        return self.train(False)

    def __repr__(self) -> str:
        return f"QGreedyPolicy(critic={self.critic!r}, epsilon={self._epsilon})"
