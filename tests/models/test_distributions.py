"""Distributions: log-probs, entropies and KLs against torch.distributions or closed forms (summed over
action dims), modes, sampling statistics, the squashed Gaussian's change of variables."""

import math

import numpy as np
import pytest
import torch
import torch.distributions as td
from gymnasium import spaces

from maze_core.distributions import (
    BernoulliProbabilityDistribution,
    CategoricalProbabilityDistribution,
    DiagonalGaussianProbabilityDistribution,
    DictProbabilityDistribution,
    MultiCategoricalProbabilityDistribution,
    SquashedGaussianProbabilityDistribution,
)

BATCH_SHAPES = [(), (7,), (5, 3)]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("batch", BATCH_SHAPES)
def test_categorical_matches_torch(batch):
    space = spaces.Discrete(5)
    logits, other_logits = torch.randn(*batch, 5), torch.randn(*batch, 5)
    dist = CategoricalProbabilityDistribution(logits, space)
    reference = td.Categorical(logits=logits)
    actions = dist.sample()
    assert actions.shape == batch and actions.dtype == torch.int64
    torch.testing.assert_close(dist.log_prob(actions), reference.log_prob(actions))
    torch.testing.assert_close(dist.entropy(), reference.entropy())
    other = CategoricalProbabilityDistribution(other_logits, space)
    torch.testing.assert_close(
        dist.kl(other), td.kl_divergence(reference, td.Categorical(logits=other_logits))
    )
    assert torch.equal(dist.deterministic_sample(), logits.argmax(-1))


def test_categorical_empirical_frequencies_match_probabilities():
    logits = torch.tensor([0.0, 1.0, -1.0, 2.0])
    dist = CategoricalProbabilityDistribution(logits.expand(20000, 4), spaces.Discrete(4))
    frequencies = torch.bincount(dist.sample(), minlength=4).float() / 20000
    torch.testing.assert_close(frequencies, logits.softmax(-1), atol=0.015, rtol=0)


def test_categorical_never_samples_impossible_actions_and_handles_them_in_entropy():
    logits = torch.tensor([[0.0, float("-inf"), 0.0]]).expand(5000, 3)
    dist = CategoricalProbabilityDistribution(logits, spaces.Discrete(3))
    assert not (dist.sample() == 1).any()
    torch.testing.assert_close(dist.entropy(), torch.full((5000,), math.log(2)))


def test_categorical_temperature_and_start_offset():
    logits = torch.randn(6, 3)
    dist = CategoricalProbabilityDistribution(logits, spaces.Discrete(3, start=10), temperature=0.5)
    reference = td.Categorical(logits=logits / 0.5)
    actions = dist.sample()
    assert ((actions >= 10) & (actions < 13)).all()
    torch.testing.assert_close(dist.log_prob(actions), reference.log_prob(actions - 10))
    torch.testing.assert_close(dist.entropy(), reference.entropy())


@pytest.mark.parametrize("nvec", [[3, 3, 3], [2, 5, 3], [[2, 3], [4, 2]]], ids=["even", "uneven", "2-d"])
@pytest.mark.parametrize("batch", BATCH_SHAPES)
def test_multi_categorical_sums_independent_categoricals(nvec, batch):
    space = spaces.MultiDiscrete(nvec)
    flat_nvec = space.nvec.flatten().tolist()
    logits = torch.randn(*batch, *MultiCategoricalProbabilityDistribution.required_logits_shape(space))
    other_logits = torch.randn_like(logits)
    dist = MultiCategoricalProbabilityDistribution(logits, space)
    other = MultiCategoricalProbabilityDistribution(other_logits, space)
    parts = [td.Categorical(logits=chunk) for chunk in logits.split(flat_nvec, dim=-1)]
    other_parts = [td.Categorical(logits=chunk) for chunk in other_logits.split(flat_nvec, dim=-1)]

    actions = dist.sample()
    assert actions.shape == (*batch, *space.shape)
    assert space.contains(actions.reshape(-1, *space.shape)[0].numpy())
    flat_actions = actions.reshape((*batch, -1))
    torch.testing.assert_close(
        dist.log_prob(actions), sum(p.log_prob(flat_actions[..., i]) for i, p in enumerate(parts))
    )
    torch.testing.assert_close(dist.entropy(), sum(p.entropy() for p in parts))
    torch.testing.assert_close(
        dist.kl(other), sum(td.kl_divergence(p, q) for p, q in zip(parts, other_parts, strict=True))
    )
    mode = torch.stack([p.logits.argmax(-1) for p in parts], dim=-1).reshape((*batch, *space.shape))
    assert torch.equal(dist.deterministic_sample(), mode)


def test_multi_categorical_start_offset():
    space = spaces.MultiDiscrete([2, 3], start=[-1, 5])
    dist = MultiCategoricalProbabilityDistribution(torch.randn(1000, 5), space)
    actions = dist.sample()
    assert set(actions[:, 0].tolist()) == {-1, 0} and set(actions[:, 1].tolist()) == {5, 6, 7}
    assert torch.isfinite(dist.log_prob(actions)).all()


@pytest.mark.parametrize("shape", [(4,), (2, 3)])
@pytest.mark.parametrize("batch", BATCH_SHAPES)
def test_bernoulli_matches_torch_summed(shape, batch):
    space = spaces.MultiBinary(list(shape))
    logits, other_logits = torch.randn(*batch, *shape), torch.randn(*batch, *shape)
    dist = BernoulliProbabilityDistribution(logits, space)
    reference, other_reference = td.Bernoulli(logits=logits), td.Bernoulli(logits=other_logits)
    dims = tuple(range(-len(shape), 0))
    actions = dist.sample()
    assert actions.shape == (*batch, *shape) and actions.dtype == torch.int8
    torch.testing.assert_close(dist.log_prob(actions), reference.log_prob(actions.float()).sum(dims))
    torch.testing.assert_close(dist.entropy(), reference.entropy().sum(dims))
    other = BernoulliProbabilityDistribution(other_logits, space)
    torch.testing.assert_close(dist.kl(other), td.kl_divergence(reference, other_reference).sum(dims))
    assert torch.equal(dist.deterministic_sample(), (logits > 0).to(torch.int8))


def test_bernoulli_empirical_frequencies():
    logits = torch.tensor([-2.0, 0.0, 1.5])
    dist = BernoulliProbabilityDistribution(logits.expand(20000, 3), spaces.MultiBinary(3))
    torch.testing.assert_close(dist.sample().float().mean(0), torch.sigmoid(logits), atol=0.015, rtol=0)


@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
@pytest.mark.parametrize("batch", BATCH_SHAPES)
def test_diagonal_gaussian_matches_torch_summed(shape, batch):
    space = spaces.Box(-np.inf, np.inf, shape=shape, dtype=np.float32)
    logits_shape = DiagonalGaussianProbabilityDistribution.required_logits_shape(space)
    logits, other_logits = torch.randn(*batch, *logits_shape), torch.randn(*batch, *logits_shape)
    dist = DiagonalGaussianProbabilityDistribution(logits, space)
    other = DiagonalGaussianProbabilityDistribution(other_logits, space)

    def reference(lg):
        mean, log_std = lg.chunk(2, dim=-1)
        full_shape = (*batch, *shape)
        return td.Independent(
            td.Normal(mean.reshape(full_shape), log_std.exp().reshape(full_shape)), len(shape)
        )

    actions = dist.sample()
    assert actions.shape == (*batch, *shape)
    torch.testing.assert_close(dist.log_prob(actions), reference(logits).log_prob(actions))
    torch.testing.assert_close(dist.entropy(), reference(logits).entropy())
    torch.testing.assert_close(dist.kl(other), td.kl_divergence(reference(logits), reference(other_logits)))
    torch.testing.assert_close(dist.deterministic_sample(), reference(logits).mean)


def test_gaussian_sample_statistics_and_temperature():
    space = spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)
    logits = torch.tensor([1.0, -2.0, math.log(0.5), math.log(2.0)]).expand(50000, 4)
    samples = DiagonalGaussianProbabilityDistribution(logits, space).sample()
    torch.testing.assert_close(samples.mean(0), torch.tensor([1.0, -2.0]), atol=0.03, rtol=0)
    torch.testing.assert_close(samples.std(0), torch.tensor([0.5, 2.0]), atol=0.03, rtol=0)
    cooled = DiagonalGaussianProbabilityDistribution(logits, space, temperature=0.1)
    torch.testing.assert_close(cooled.std[0], torch.tensor([0.05, 0.2]))


def test_gaussian_rsample_is_differentiable():
    space = spaces.Box(-1, 1, shape=(2,), dtype=np.float32)
    logits = torch.randn(3, 4, requires_grad=True)
    for cls in (DiagonalGaussianProbabilityDistribution, SquashedGaussianProbabilityDistribution):
        cls(logits, space).rsample().sum().backward()
        assert logits.grad is not None and logits.grad.abs().sum() > 0
        logits.grad = None
        assert not cls(logits, space).sample().requires_grad


BOUNDED = spaces.Box(
    low=np.array([-2, 0, 10], np.float32), high=np.array([2, 1, 20], np.float32), dtype=np.float32
)


def test_squashed_gaussian_samples_stay_inside_the_bounds():
    logits = torch.cat([torch.randn(1000, 3) * 5, torch.full((1000, 3), 2.0)], dim=-1)
    samples = SquashedGaussianProbabilityDistribution(logits, BOUNDED).sample()
    low, high = torch.as_tensor(BOUNDED.low), torch.as_tensor(BOUNDED.high)
    assert ((samples >= low) & (samples <= high)).all()


def test_squashed_gaussian_log_prob_is_the_change_of_variables():
    mean, log_std = (
        torch.randn(64, 3, dtype=torch.float64),
        torch.empty(64, 3, dtype=torch.float64).uniform_(-3, 2),
    )
    dist = SquashedGaussianProbabilityDistribution(torch.cat([mean, log_std], dim=-1), BOUNDED)
    x = (mean + log_std.exp() * torch.randn(64, 3, dtype=torch.float64)).clamp(
        -5, 5
    )  # away from the float limits
    low, high = (
        torch.as_tensor(BOUNDED.low, dtype=torch.float64),
        torch.as_tensor(BOUNDED.high, dtype=torch.float64),
    )
    actions = low + (torch.tanh(x) + 1) / 2 * (high - low)
    # density of the action: Gaussian density of x over |d action / d x| = (high - low) / 2 * (1 - tanh(x)^2)
    jacobian = (high - low) / 2 * (1 - torch.tanh(x) ** 2)
    expected = (td.Normal(mean, log_std.exp()).log_prob(x) - jacobian.log()).sum(-1)
    torch.testing.assert_close(dist.log_prob(actions), expected)


def test_squashed_gaussian_log_prob_of_saturated_samples_is_exact_from_the_latent():
    # at std 4 a large share of float32 samples saturate: tanh(x) rounds to exactly +-1
    n = 20000
    logits = torch.cat([torch.zeros(n, 3), torch.full((n, 3), math.log(4.0))], dim=-1)
    dist = SquashedGaussianProbabilityDistribution(logits, BOUNDED)
    actions, latent = dist.sample_with_latent()
    low, high = torch.as_tensor(BOUNDED.low), torch.as_tensor(BOUNDED.high)
    assert ((actions >= low) & (actions <= high)).all()
    torch.testing.assert_close(actions, dist._to_action(latent))
    x = latent.double()
    # log |d action / d x| = log((high - low) / 2) + log(1 - tanh(x)^2), the latter in float64 as
    # log(4) - 2|x| - 2 log1p(exp(-2|x|)) (1 - tanh(x)^2 itself underflows for |x| > 19)
    log_jacobian = (
        ((high - low) / 2).double().log()
        + math.log(4)
        - 2 * x.abs()
        - 2 * torch.log1p(torch.exp(-2 * x.abs()))
    )
    exact = (td.Normal(0.0, 4.0).log_prob(x) - log_jacobian).sum(-1)
    from_latent = dist.log_prob_of_latent(latent)
    assert (from_latent.double() - exact).abs().max().item() < 1e-3
    # the action alone cannot tell where in the saturated tail x was
    assert ((dist.log_prob(actions).double() - exact).abs() > 0.1).float().mean() > 0.01
    heads = DictProbabilityDistribution({"force": dist})
    torch.testing.assert_close(heads.log_prob({"force": actions}, {"force": latent}), from_latent)


def test_squashed_gaussian_density_integrates_to_one():
    space = spaces.Box(-2.0, 3.0, shape=(1,), dtype=np.float64)
    dist = SquashedGaussianProbabilityDistribution(torch.tensor([0.7, -0.3], dtype=torch.float64), space)
    grid = torch.linspace(-2.0, 3.0, 200001, dtype=torch.float64)[1:-1].unsqueeze(-1)
    density = dist.log_prob(grid).exp()
    assert torch.trapezoid(density, grid[:, 0]).item() == pytest.approx(1.0, abs=1e-3)


def test_squashed_gaussian_mode_entropy_and_kl():
    logits, other_logits = (
        torch.cat([torch.randn(4, 3), torch.empty(4, 3).uniform_(-3, 2)], -1) for _ in range(2)
    )
    dist = SquashedGaussianProbabilityDistribution(logits, BOUNDED)
    other = SquashedGaussianProbabilityDistribution(other_logits, BOUNDED)
    mean, log_std = logits.chunk(2, dim=-1)
    low, high = torch.as_tensor(BOUNDED.low), torch.as_tensor(BOUNDED.high)
    torch.testing.assert_close(dist.deterministic_sample(), low + (torch.tanh(mean) + 1) / 2 * (high - low))
    base = td.Independent(td.Normal(mean, log_std.exp()), 1)
    torch.testing.assert_close(dist.entropy(), base.entropy())  # the Gaussian's before squashing
    other_mean, other_log_std = other_logits.chunk(2, dim=-1)
    other_base = td.Independent(td.Normal(other_mean, other_log_std.exp()), 1)
    torch.testing.assert_close(
        dist.kl(other), td.kl_divergence(base, other_base)
    )  # invariant under the squash


def test_squashed_gaussian_clamps_log_std():
    logits = torch.tensor([0.0, 0.0, 0.0, 50.0, -50.0, 0.0])
    dist = SquashedGaussianProbabilityDistribution(logits, BOUNDED)
    torch.testing.assert_close(dist.log_std, torch.tensor([2.0, -20.0, 0.0]))


def test_dict_distribution_sums_over_heads():
    heads = {
        "choice": CategoricalProbabilityDistribution(torch.randn(4, 3), spaces.Discrete(3)),
        "force": DiagonalGaussianProbabilityDistribution(torch.randn(4, 4), spaces.Box(-1, 1, (2,))),
    }
    dist = DictProbabilityDistribution(heads)
    actions = dist.sample()
    assert set(actions) == {"choice", "force"}
    torch.testing.assert_close(dist.log_prob(actions), sum(d.log_prob(actions[h]) for h, d in heads.items()))
    torch.testing.assert_close(dist.entropy(), heads["choice"].entropy() + heads["force"].entropy())
    torch.testing.assert_close(dist.kl(dist), torch.zeros(4))
    assert set(dist.log_prob_dict(actions)) == {"choice", "force"}
    assert dist["choice"] is heads["choice"]
    with pytest.raises(KeyError, match="force"):
        dist.log_prob({"choice": actions["choice"]})
