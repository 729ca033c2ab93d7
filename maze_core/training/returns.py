"""Returns and advantages of a rollout (generalised advantage estimation).

All tensors are shaped (T, N): T transitions of N envs, in the order they happened. Transitions
are sub-steps; ``discounts[t]`` is ``gamma`` where transition t ends an env step and 1 inside a
multi-step env step, so discounting follows env time, not sub-steps.

``next_values[t]`` is the value of the state after transition t: the value of the next
observation in the rollout, the value after the rollout for its last transition, or - for a
truncated episode - the value of that episode's final observation. A terminated transition does
not bootstrap; any episode end stops the advantage from flowing back into the previous episode.
"""

from __future__ import annotations

import torch


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    episode_ends: torch.Tensor,
    discounts: torch.Tensor,
    gae_lambda: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(advantages, returns)``; with ``gae_lambda == 1`` returns are plain discounted returns."""
    not_terminated = 1.0 - terminated.float()
    continues = 1.0 - episode_ends.float()
    deltas = rewards + discounts * not_terminated * next_values - values
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = deltas[t] + discounts[t] * gae_lambda * continues[t] * running
        advantages[t] = running
    return advantages, advantages + values
