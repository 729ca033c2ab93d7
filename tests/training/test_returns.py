"""Returns and advantages against hand-computed values."""

import pytest
import torch

from maze_core.training.returns import compute_gae


def _gae(rewards, values, next_values, terminated=None, truncated=None, discounts=None, gamma=0.5, lam=1.0):
    def column(x):
        return torch.tensor(x, dtype=torch.float32).unsqueeze(1)

    n = len(rewards)
    terminated = torch.tensor(terminated or [False] * n).unsqueeze(1)
    truncated = torch.tensor(truncated or [False] * n).unsqueeze(1)
    discounts = column(discounts or [gamma] * n)
    advantages, returns = compute_gae(
        column(rewards),
        column(values),
        column(next_values),
        terminated,
        terminated | truncated,
        discounts,
        lam,
    )
    return advantages[:, 0].tolist(), returns[:, 0].tolist()


def test_bootstraps_from_the_value_after_the_rollout():
    # R2 = 1 + .5 * 4 = 3, R1 = 1 + .5 * 3 = 2.5, R0 = 1 + .5 * 2.5 = 2.25
    advantages, returns = _gae([1, 1, 1], [1, 2, 3], [2, 3, 4])
    assert returns == pytest.approx([2.25, 2.5, 3.0])
    assert advantages == pytest.approx([1.25, 0.5, 0.0])


def test_termination_does_not_bootstrap_and_stops_the_return():
    # episode ends (terminal) at t=1: R1 = 1, R0 = 1 + .5 * 1; t=2 starts a new episode
    _, returns = _gae([1, 1, 1], [1, 2, 3], [2, 3, 4], terminated=[False, True, False])
    assert returns == pytest.approx([1.5, 1.0, 3.0])


def test_truncation_bootstraps_from_the_final_observation():
    # time limit at t=1, V(final observation) = 10: R1 = 1 + .5 * 10, R0 = 1 + .5 * 6
    _, returns = _gae([1, 1, 1], [1, 2, 3], [2, 10, 4], truncated=[False, True, False])
    assert returns == pytest.approx([4.0, 6.0, 3.0])


def test_gae_lambda():
    # deltas [1, .5, 0]; A2 = 0, A1 = .5 + .25 * 0, A0 = 1 + .25 * .5
    advantages, _ = _gae([1, 1, 1], [1, 2, 3], [2, 3, 4], lam=0.5)
    assert advantages == pytest.approx([1.125, 0.5, 0.0])


def test_sub_steps_inside_one_env_step_are_not_discounted():
    # sub-step 0 and 1 form one env step: R0 = 1 + 1 + .5 * 3
    _, returns = _gae([1, 1], [1, 2], [2, 3], discounts=[1.0, 0.5])
    assert returns == pytest.approx([3.5, 2.5])


def test_columns_are_independent_envs():
    rewards = torch.tensor([[1.0, 0.0], [1.0, 2.0]])
    values = torch.zeros(2, 2)
    next_values = torch.zeros(2, 2)
    flags = torch.tensor([[False, True], [False, False]])
    _, returns = compute_gae(rewards, values, next_values, flags, flags, torch.full((2, 2), 0.5), 1.0)
    assert returns.tolist() == [[1.5, 0.0], [1.0, 2.0]]
