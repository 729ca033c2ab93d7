"""The size of the default networks: hidden layers, activation and memory, as composers take them
(``hidden_units=``, ``activation=``, ``recurrent=``) and as the ``model`` override section sets
them for policy and critic together (docs/models.md, "The default networks' size")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
from torch import nn

from maze_core._imports import import_object
from maze_core.errors import ConfigurationError

#: activations by the names ``activation=`` takes (besides a dotted path to an ``nn.Module`` class)
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
    "selu": nn.SELU,
    "silu": nn.SiLU,
    "sigmoid": nn.Sigmoid,
}
#: the names other libraries give the default networks' settings (Stable-Baselines3's
#: ``policy_kwargs``, the networks' own ``non_lin``) -> ours
OTHER_NAMES = {
    "net_arch": "hidden_units",
    "hidden_sizes": "hidden_units",
    "hidden_layers": "hidden_units",
    "activation_fn": "activation",
    "non_lin": "activation",
}


def default_network_kwargs(
    hidden_units: Any = None, activation: Any = None, recurrent: Any = None
) -> dict[str, Any]:
    """The arguments a composer builds its default networks with: ``hidden_units`` (the sizes of
    the hidden layers, e.g. ``[64, 64]``; ``[]``: none), ``activation`` (a name of
    :data:`ACTIVATIONS`, a dotted path or an ``nn.Module`` class) and ``recurrent`` (``"lstm"`` or
    ``"gru"``: the networks' recurrent counterparts, see :mod:`maze_core.perception.recurrent`),
    checked; ``{}`` for none
    (the networks' own defaults: 256x256, tanh for policies and state critics, ReLU for Q networks)."""
    kwargs: dict[str, Any] = {}
    if hidden_units is not None:
        valid = isinstance(hidden_units, Sequence) and not isinstance(hidden_units, str)
        if not valid or not all(_is_size(units) for units in hidden_units):
            raise ConfigurationError(
                f"hidden_units={hidden_units!r} is invalid: give the sizes of the hidden layers, a list of "
                f"integers > 0 such as [64, 64]"
            )
        kwargs["hidden_units"] = list(hidden_units)
    if activation is not None:
        kwargs["non_lin"] = _activation_class(activation)
    if recurrent is not None:  # "lstm" or "gru": the default network's recurrent counterpart
        from maze_core.perception.recurrent import check_cell

        kwargs["recurrent"] = check_cell(recurrent)
    return kwargs


def _is_size(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _activation_class(activation: Any) -> type[nn.Module]:
    if isinstance(activation, str) and activation.lower() in ACTIVATIONS:
        return ACTIVATIONS[activation.lower()]
    if isinstance(activation, str) and "." in activation:
        return import_object(activation, "activation", kind=nn.Module)
    if isinstance(activation, type) and issubclass(activation, nn.Module):
        return activation
    raise ConfigurationError(
        f"activation={activation!r} is not known: give one of {', '.join(ACTIVATIONS)}, a dotted path "
        f"such as torch.nn.Hardswish, or an nn.Module class"
    )


def check_not_layer_sizes(networks: Any, where: str) -> None:
    """Refuse ``networks=[64, 64]``: layer sizes where networks (one per step key) belong, naming
    the setting that takes sizes; ``where`` is how the user spelled it."""
    sizes = [networks] if _is_size(networks) else networks
    if isinstance(sizes, list | tuple) and sizes and all(_is_size(item) for item in sizes):
        sizes = list(sizes)
        typed = f"[{','.join(map(str, sizes))}]"  # one word on a command line
        raise ConfigurationError(
            f"{where}={networks} looks like layer sizes, but networks gives whole networks (one per step "
            f"key); the default networks' hidden layers are hidden_units={sizes} "
            f"(--set policy.hidden_units={typed}, critic.hidden_units, or model.hidden_units for both)"
        )


@attrs.define(kw_only=True)
class DefaultNetworks:
    """``model.<field>``: the size of the default networks of policy and critic together. Each field
    sets ``policy.<field>`` and ``critic.<field>`` where that composer takes it (``q_greedy`` builds
    no network: DQN's model is its critic's), under the parts' own overrides."""

    #: the sizes of the hidden layers, e.g. ``[64, 64]`` (default: 256x256)
    hidden_units: list[int] | None = None
    #: a name such as ``"relu"`` or ``"tanh"``, or a dotted path to an ``nn.Module`` class
    activation: str | None = None
    #: ``"lstm"`` or ``"gru"``: networks with memory (docs/models.md, "Recurrent policies")
    recurrent: str | None = None

    @classmethod
    def hint_for(cls, name: str) -> str:
        if name == "networks":
            return " Networks are given per part: policy.networks, critic.networks."
        return f" It is called {OTHER_NAMES[name]}." if name in OTHER_NAMES else ""
