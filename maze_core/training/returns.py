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
    deltas = rewards + discounts * next_values.masked_fill(terminated.bool(), 0.0) - values
    # how much of the next step's advantage flows back into each step (none across an episode end)
    decays = (discounts * gae_lambda).masked_fill(episode_ends.bool(), 0.0)
    # the backward recursion is inherently sequential: one fused multiply-add per time step
    deltas_t, decays_t = deltas.unbind(0), decays.unbind(0)
    running = deltas_t[-1]
    advantages = [running]
    for t in range(rewards.shape[0] - 2, -1, -1):
        running = torch.addcmul(deltas_t[t], decays_t[t], running)
        advantages.append(running)
    advantages.reverse()
    advantages = torch.stack(advantages)
    return advantages, advantages + values
