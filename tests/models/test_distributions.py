"""Distributions: log-probs, entropies and KLs against torch.distributions or closed forms (summed over
action dims), modes, sampling statistics, the squashed Gaussian's change of variables (near the bounds
against 60-digit arithmetic) and action entropy (against numerical integration), Gaussians clipped
into bounded Boxes."""

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


def test_squashed_gaussian_mode_and_kl():
    logits, other_logits = (
        torch.cat([torch.randn(4, 3), torch.empty(4, 3).uniform_(-3, 2)], -1) for _ in range(2)
    )
    dist = SquashedGaussianProbabilityDistribution(logits, BOUNDED)
    other = SquashedGaussianProbabilityDistribution(other_logits, BOUNDED)
    mean, log_std = logits.chunk(2, dim=-1)
    low, high = torch.as_tensor(BOUNDED.low), torch.as_tensor(BOUNDED.high)
    torch.testing.assert_close(dist.deterministic_sample(), low + (torch.tanh(mean) + 1) / 2 * (high - low))
    base = td.Independent(td.Normal(mean, log_std.exp()), 1)
    other_mean, other_log_std = other_logits.chunk(2, dim=-1)
    other_base = td.Independent(td.Normal(other_mean, other_log_std.exp()), 1)
    torch.testing.assert_close(
        dist.kl(other), td.kl_divergence(base, other_base)
    )  # invariant under the squash


def _squashed_entropy(mean: float, log_std: float, space: spaces.Box) -> float:
    """The action's entropy -E[log p(action)], summed over dims, by the trapezoid rule over x in
    float64, with log(1 - tanh(x)^2) = -2 log cosh(x) written with logaddexp."""
    std, total = math.exp(log_std), 0.0
    for low, high in zip(space.low.astype(float), space.high.astype(float), strict=True):
        x = np.linspace(mean - 14 * std, mean + 14 * std, 400_001)
        log_gauss = -0.5 * ((x - mean) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)
        log_tanh_derivative = -2 * (np.logaddexp(x, -x) - math.log(2))
        log_p = log_gauss - math.log((high - low) / 2) - log_tanh_derivative
        total -= np.trapezoid(np.exp(log_gauss) * log_p, x)
    return total


# the quadrature's documented error per action dimension
ENTROPY_TOLERANCE = {-3.0: 1e-4, 0.0: 1e-4, 0.5: 1e-4, 1.0: 2e-3, 1.5: 2e-2, 2.0: 0.1}


@pytest.mark.parametrize("mean", [0.0, 0.7, -2.5])
@pytest.mark.parametrize("log_std", list(ENTROPY_TOLERANCE))
def test_squashed_gaussian_entropy_is_the_actions(mean, log_std):
    logits = torch.tensor([mean] * 3 + [log_std] * 3).expand(2, 6)
    entropy = SquashedGaussianProbabilityDistribution(logits, BOUNDED).entropy()
    assert entropy.shape == (2,)
    expected = _squashed_entropy(mean, log_std, BOUNDED)
    assert entropy[0].item() == pytest.approx(expected, abs=3 * ENTROPY_TOLERANCE[log_std])  # 3 dims


def test_squashed_gaussian_entropy_falls_as_the_std_pushes_actions_onto_the_bounds():
    pendulum = spaces.Box(-2, 2, (1,))
    wide, narrow = (
        SquashedGaussianProbabilityDistribution(torch.tensor([0.0, log_std]).expand(100_000, 2), pendulum)
        for log_std in (2.0, 0.0)
    )
    assert (wide.sample().abs() > 1.98).float().mean() > 0.6  # most actions sit on the bounds
    assert wide.entropy()[0] < narrow.entropy()[0] - 5
    # what the entropy was before: the Gaussian's, which keeps growing with the std
    gaussian = DiagonalGaussianProbabilityDistribution.entropy
    assert gaussian(wide)[0] > gaussian(narrow)[0]


@pytest.mark.parametrize("mean", [0.0, 0.7, 2.0])
@pytest.mark.parametrize(
    "log_std, mean_slope_tolerance", [(-2.0, 1e-6), (1.0, 1e-2), (1.5, 0.05), (1.9, 0.1)]
)
def test_squashed_gaussian_entropy_gradient_is_the_actions(mean, log_std, mean_slope_tolerance):
    space = spaces.Box(-2, 2, (1,))
    logits = torch.tensor([mean, log_std], dtype=torch.float64, requires_grad=True)
    SquashedGaussianProbabilityDistribution(logits, space).entropy().backward()
    d_mean, d_log_std = logits.grad.tolist()

    def slope(f, at, h=1e-3):
        return (f(at + h) - f(at - h)) / (2 * h)

    assert d_log_std == pytest.approx(slope(lambda s: _squashed_entropy(mean, s, space), log_std), rel=0.03)
    if log_std >= 1:  # a wider Gaussian puts more actions on the bounds: less entropy
        assert d_log_std < -2
    expected_d_mean = slope(lambda m: _squashed_entropy(m, log_std, space), mean)
    assert d_mean == pytest.approx(expected_d_mean, abs=mean_slope_tolerance)


NEAR_BOUNDS = spaces.Box(
    low=np.array([-2, -3, 0], np.float32), high=np.array([2, 5, 1], np.float32), dtype=np.float32
)


@pytest.mark.parametrize("logits_dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("side", ["high", "low"])
def test_squashed_gaussian_log_prob_is_exact_near_the_bounds(side, logits_dtype):
    mp = pytest.importorskip("mpmath").mp  # (torch depends on it, through sympy)
    # float32 actions 1e-2 to 1e-7 of the range inside a bound, and the bound's float32 neighbour
    low, high = NEAR_BOUNDS.low.astype(float), NEAR_BOUNDS.high.astype(float)
    bound, inward = (high, -1) if side == "high" else (low, 1)
    distances = np.array([1e-2, 1e-4, 1e-6, 1e-7])[:, None] * (high - low)
    nearest = np.nextafter(bound.astype(np.float32), np.float32(0.5))
    actions = np.vstack([bound + inward * distances, nearest]).astype(np.float32)
    x = np.log((actions - low) / (high - actions)) / 2  # atanh of the position in the Box
    mean = torch.as_tensor(x - 0.3 * inward, dtype=logits_dtype)  # the action 0.6 std from the mean
    log_std = torch.full_like(mean, math.log(0.5))
    dist = SquashedGaussianProbabilityDistribution(torch.cat([mean, log_std], -1), NEAR_BOUNDS)
    log_prob = dist.log_prob(torch.as_tensor(actions))
    assert log_prob.dtype == logits_dtype

    def reference(action, mean, log_std, low, high):  # the density of the action, to 60 digits
        action, mean, log_std, low, high = (mp.mpf(float(v)) for v in (action, mean, log_std, low, high))
        y = (2 * action - high - low) / (high - low)
        x = mp.atanh(y)
        log_gauss = -(((x - mean) / mp.exp(log_std)) ** 2) / 2 - log_std - mp.log(2 * mp.pi) / 2
        return log_gauss - mp.log((high - low) / 2 * (1 - y**2))

    for row, value in enumerate(log_prob.tolist()):
        with mp.workdps(60):
            expected = sum(map(reference, actions[row], mean[row], log_std[row], low, high))
        assert abs(value - float(expected)) < 1e-3, (actions[row], value, float(expected))


def test_squashed_gaussian_log_prob_of_an_action_on_a_bound_is_the_nearest_inside():
    # a saturated action has no finite latent; it is taken for the nearest float32 inside
    logits = torch.tensor([8.0, -8.0, 0.0, 0.0, 0.0, 0.0])
    dist = SquashedGaussianProbabilityDistribution(logits, NEAR_BOUNDS)
    on_bounds = torch.as_tensor(np.array([2, -3, 1], np.float32))
    inside = torch.as_tensor(np.array([np.nextafter(np.float32(v), np.float32(0.5)) for v in (2, -3, 1)]))
    assert torch.isfinite(dist.log_prob(on_bounds))
    torch.testing.assert_close(dist.log_prob(on_bounds), dist.log_prob(inside))


PENDULUM = spaces.Box(-2, 2, (1,), np.float32)


def test_gaussian_clips_what_it_returns_into_a_bounded_box_and_keeps_the_unclipped_sample():
    logits = torch.tensor([0.0, 1.0]).expand(20000, 2)  # log std 1 on Pendulum's Box(-2, 2)
    dist = DiagonalGaussianProbabilityDistribution(logits, PENDULUM)
    for actions in (dist.sample(), dist.rsample()):
        assert ((actions >= -2) & (actions <= 2)).all()
    actions, latent = dist.sample_with_latent()
    assert (latent.abs() > 2).float().mean() > 0.4  # what was sampled: about half outside
    assert torch.equal(actions, latent.clamp(-2, 2))
    # the log-prob for training is the Gaussian's of the sample, not the density at the clipped action
    expected = td.Normal(0.0, math.e).log_prob(latent).sum(-1)
    torch.testing.assert_close(dist.log_prob_of_latent(latent), expected)
    heads = DictProbabilityDistribution({"action": dist})
    torch.testing.assert_close(heads.log_prob({"action": actions}, {"action": latent}), expected)
    far = DiagonalGaussianProbabilityDistribution(torch.tensor([[5.0, 0.0], [-5.0, 0.0]]), PENDULUM)
    assert far.deterministic_sample().tolist() == [[2.0], [-2.0]]


def test_gaussian_clips_only_the_bounded_dimensions():
    half = spaces.Box(np.array([-1, -np.inf], np.float32), np.array([1, np.inf], np.float32))
    dist = DiagonalGaussianProbabilityDistribution(torch.tensor([0.0, 0.0, 2.0, 2.0]).expand(5000, 4), half)
    actions, latent = dist.sample_with_latent()
    assert actions[:, 0].abs().max() <= 1 and torch.equal(actions[:, 1], latent[:, 1])
    assert actions[:, 1].abs().max() > 10
    unbounded = DiagonalGaussianProbabilityDistribution(torch.zeros(3, 2), spaces.Box(-np.inf, np.inf, (1,)))
    assert unbounded.sample_with_latent()[1] is None  # nothing to keep: the sample is the action


def test_gaussian_bounds_first_made_while_acting_serve_training_with_gradients():
    box = spaces.Box(-1, 1, (2,), np.float32)  # a new Box: its bounds' tensors are made (and kept) here
    logits = torch.randn(3, 4, requires_grad=True)
    for cls in (DiagonalGaussianProbabilityDistribution, SquashedGaussianProbabilityDistribution):
        with torch.inference_mode():
            cls(logits.detach(), box).sample_with_latent()
        cls(logits, box).rsample().sum().backward()  # no "inference tensors cannot be saved for backward"
    assert logits.grad.abs().sum() > 0


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
