"""A2CAlgorithmConfig: the seed's fields and defaults (plus options that default to the seed's
behaviour), validated at construction."""

import attrs
import pytest
from maze_a2c import A2CAlgorithmConfig

from maze_core.errors import ConfigurationError

SEED_VALUES = dict(
    n_epochs=5,
    epoch_length=25,
    patience=15,
    critic_burn_in_epochs=0,
    n_rollout_steps=100,
    lr=0.0005,
    gamma=0.98,
    gae_lambda=1.0,
    policy_loss_coef=1.0,
    value_loss_coef=0.5,
    entropy_coef=0.00025,
    max_grad_norm=0.0,
    device="cpu",
    rollout_evaluator=None,
)
# options the seed did not have, defaulting to what the seed did (Adam with torch's eps, a constant
# learning rate, normalized advantages)
NEW_OPTIONS = dict(optimizer="adam", optimizer_eps=1e-8, lr_schedule="constant", normalize_advantages=True)
NEW_OPTIONS["n_env_steps"] = None  # the length in env steps instead of n_epochs (None: not given)


def test_has_exactly_the_seed_fields_plus_the_new_options():
    assert {f.name for f in attrs.fields(A2CAlgorithmConfig)} == set(SEED_VALUES) | set(NEW_OPTIONS)
    config = A2CAlgorithmConfig(**SEED_VALUES)
    assert attrs.asdict(config) == {**SEED_VALUES, **NEW_OPTIONS}


def test_defaults_are_the_seed_values():
    defaults = attrs.asdict(A2CAlgorithmConfig())
    assert {k: v for k, v in defaults.items() if k != "n_epochs"} == {
        k: v for k, v in {**SEED_VALUES, **NEW_OPTIONS}.items() if k != "n_epochs"
    }


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("lr", -0.1, "lr=-0.1"),
        ("gamma", 1.5, "in [0, 1]"),
        ("gae_lambda", -0.1, "gae_lambda"),
        ("epoch_length", 0, "epoch_length=0"),
        ("n_rollout_steps", 2.5, "n_rollout_steps"),
        ("entropy_coef", -1, "entropy_coef"),
        ("device", "tpu", "unknown device 'tpu'"),
        ("rollout_evaluator", "eval", "rollout_evaluator"),
        ("optimizer", "sgd", "optimizer='sgd' is invalid: it must be one of 'adam', 'rmsprop'"),
        ("lr_schedule", "cosine", "one of 'constant', 'linear'"),
        ("optimizer_eps", 0, "optimizer_eps"),
        ("normalize_advantages", "yes", "normalize_advantages"),
    ],
)
def test_bad_values_name_the_field(field, value, message):
    with pytest.raises(ConfigurationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        A2CAlgorithmConfig(**{field: value})


def test_cuda_is_a_known_device_name():
    assert A2CAlgorithmConfig(device="cuda:0").device == "cuda:0"
