"""Callbacks: user code that runs inside training, and experiment trackers built on it.

``RunContext.train(callbacks=[...])`` takes :class:`Callback` instances, and names of trackers a
plugin registers (``"wandb"``, ``"mlflow"``; ``maze train --tracker NAME``). A callback overrides
only the methods it needs; :meth:`Callback.on_update` runs after every update, so the trainer calls
it only for callbacks that override it. Any method may raise :class:`StopTraining` to end the run
after the current epoch (evaluated and checkpointed as usual).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any


class StopTraining(Exception):  # noqa: N818  (named for what it does, as StopIteration)
    """Raised by a callback to end training after the current epoch; its message says why."""


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """What a callback learns when a ``train()`` call starts."""

    run_dir: Path
    config: dict[str, Any]  #: what the run's config.json records (algorithm, env, seed, ...)
    epoch: int  #: epochs finished before this call (a resumed or continued run has some)
    env_steps: int  #: env steps taken before this call


class Callback:
    """Hooks into a training run; every method does nothing here. See docs/training.md, "Callbacks"."""

    def on_train_start(self, run: RunInfo) -> None:
        """A ``train()`` call starts (the run is built, its config.json written)."""

    def on_update(self, env_steps: int, stats: dict[str, float]) -> None:
        """An update finished: ``stats`` is what the algorithm's ``update()`` returned; ``env_steps``
        the run's total so far. Called only for callbacks that override it."""

    def on_epoch_end(self, epoch: int, stats: dict[str, dict[str, float]]) -> None:
        """Epoch ``epoch`` (1-based, counted over the whole run) finished, evaluated and checkpointed;
        ``stats`` is what ``stats.jsonl`` records for it: ``{"train": {...}, "eval": {...},
        "algorithm": {..., "env_steps": n}, "model_selection": {...}}``."""

    def on_train_end(self, error: BaseException | None) -> None:
        """The ``train()`` call ended: normally (``error`` None), or by an exception such as
        ``KeyboardInterrupt`` (the run keeps its checkpoint either way)."""


def overrides(callback: Callback, method: str) -> bool:
    """Whether ``callback`` has its own ``method`` (the trainer skips the ones that do nothing)."""
    return getattr(type(callback), method) is not getattr(Callback, method)


def resolve_callbacks(callbacks: Any) -> list[Callback]:
    """``callbacks`` (None, a Callback or tracker name, or a list of them) as Callback instances; a
    name is a tracker registered by a plugin, built without arguments."""
    from maze_core import plugins
    from maze_core.errors import ConfigurationError, PluginError

    if callbacks is None:
        return []
    if isinstance(callbacks, (str, Callback)):
        callbacks = [callbacks]
    resolved = []
    for item in callbacks:
        if isinstance(item, str):
            tracker = plugins.load("tracker", item)
            if not (isinstance(tracker, type) and issubclass(tracker, Callback)):
                raise PluginError(
                    f"tracker {item!r} is {tracker!r}, not a maze_core.training.callbacks.Callback subclass"
                )
            item = tracker()
        elif not isinstance(item, Callback):
            known = ", ".join(plugins.names("tracker")) or "none installed"
            raise ConfigurationError(
                f"callbacks takes Callback instances (maze_core.training.callbacks.Callback) or names "
                f"of trackers ({known}), got {type(item).__name__}"
            )
        resolved.append(item)
    return resolved


def flat_statistics(stats: dict[str, dict[str, float]]) -> dict[str, float]:
    """An epoch's ``{prefix: {name: value}}`` as ``{"prefix/name": value}``, the names TensorBoard
    and the trackers show (``eval/episode_return_mean``)."""
    return {f"{prefix}/{name}": value for prefix, values in stats.items() for name, value in values.items()}


def env_steps_at(epoch: int, stats: dict[str, dict[str, float]]) -> int:
    """The run's env steps at the end of an epoch, the x axis of its curves (the epoch if unknown),
    so that runs with different epoch sizes compare."""
    return int(stats.get("algorithm", {}).get("env_steps", epoch))
