"""Maze's Adam and RMSprop (maze_core.training.optimizers) against torch.optim's: the same steps to
1e-6, and optimizer state that loads in both directions (checkpoints written before the switch)."""

import pytest
import torch

from maze_core.training import optimizers


def _parameters(seed: int) -> list[torch.nn.Parameter]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(shape, generator=generator)) for shape in ((64, 4), (64,), (3,))]


def _steps(optimizer, parameters, n_steps: int, seed: int = 1, lr_at=None) -> None:
    """Gradients of a loss that changes with the parameters (so that the moments matter)."""
    generator = torch.Generator().manual_seed(seed)
    for step in range(n_steps):
        if lr_at is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step)
        optimizer.zero_grad()
        targets = [torch.randn(p.shape, generator=generator) for p in parameters]
        loss = sum(
            ((p - t) ** 3).abs().sum() * (i + 1)
            for i, (p, t) in enumerate(zip(parameters, targets, strict=True))
        )
        loss.backward()
        optimizer.step()


OURS_AND_TORCHS = {
    "adam": (
        lambda params: optimizers.Adam(params, lr=3e-3, eps=1e-5),
        lambda params: torch.optim.Adam(params, lr=3e-3, eps=1e-5, foreach=False),
    ),
    "rmsprop": (
        lambda params: optimizers.RMSprop(params, lr=1e-3, alpha=0.99, eps=1e-5),
        lambda params: torch.optim.RMSprop(params, lr=1e-3, alpha=0.99, eps=1e-5, foreach=False),
    ),
}


@pytest.mark.parametrize(
    ("name", "fused"),
    [("adam", True), ("adam", False), ("rmsprop", False)],
    ids=["adam-fused-kernel", "adam-per-tensor", "rmsprop"],
)
def test_steps_equal_torch_optim(name, fused, monkeypatch):
    if not fused:  # Adam's path on devices without torch's fused kernel
        monkeypatch.setattr(optimizers, "FUSED_ADAM_DEVICES", ())
    ours_factory, torch_factory = OURS_AND_TORCHS[name]
    ours, theirs = _parameters(0), _parameters(0)
    schedule = lambda step: 1e-3 * (1 - step / 40)  # noqa: E731 - a decaying learning rate, as trainers set it
    _steps(ours_factory(ours), ours, 30, lr_at=schedule)
    _steps(torch_factory(theirs), theirs, 30, lr_at=schedule)
    for mine, reference, start in zip(ours, theirs, _parameters(0), strict=True):
        assert (mine - start).abs().max() > 1e-3  # it did train
        torch.testing.assert_close(mine, reference, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", OURS_AND_TORCHS)
def test_state_moves_between_ours_and_torchs_and_training_continues_equal(name):
    ours_factory, torch_factory = OURS_AND_TORCHS[name]
    # torch's state (as in checkpoints written before Maze had its own optimizers) into ours
    reference = _parameters(0)
    torch_optimizer = torch_factory(reference)
    _steps(torch_optimizer, reference, 5)
    resumed = [torch.nn.Parameter(p.detach().clone()) for p in reference]
    ours = ours_factory(resumed)
    ours.load_state_dict(torch_optimizer.state_dict())
    _steps(torch_optimizer, reference, 5, seed=2)
    _steps(ours, resumed, 5, seed=2)
    for mine, theirs in zip(resumed, reference, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=1e-6)
    # and ours back into torch's
    back = torch_factory([torch.nn.Parameter(p.detach().clone()) for p in resumed])
    back.load_state_dict(ours.state_dict())
    pairs = zip(ours.state_dict()["state"].values(), back.state_dict()["state"].values(), strict=True)
    for saved, loaded in pairs:
        assert saved.keys() == loaded.keys()
        for key in saved:
            torch.testing.assert_close(loaded[key].float(), saved[key].float())


def test_a_state_of_another_shape_is_refused_in_one_line():
    ours = optimizers.Adam(_parameters(0))
    other = torch.optim.Adam(_parameters(0)[:2])
    with pytest.raises(ValueError, match="saved Adam state has 2 parameters in 1 groups; this one has 3"):
        ours.load_state_dict(other.state_dict())
