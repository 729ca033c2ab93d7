"""The epoch loop every trainer shares, whatever its algorithm family.

:class:`EpochTrainer` runs epochs of ``epoch_length`` iterations; after every epoch it evaluates
the policy, keeps the best weights in ``state_dict.pt``, writes a resumable ``checkpoint.pt``, logs
statistics and applies early stopping. A family says what one iteration is
(:meth:`EpochTrainer._iteration`): the on-policy :class:`~maze_core.training.trainer.ActorCriticTrainer`
collects a rollout and updates on it; the off-policy
:class:`~maze_core.training.off_policy.OffPolicyTrainer` collects a few steps into a replay buffer
and takes gradient steps on samples of it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random
import time
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from maze_core import run_dir as run_files
from maze_core import statistics
from maze_core.errors import ConfigurationError, TrainingError, raise_if_terminated
from maze_core.training.callbacks import StopTraining, overrides
from maze_core.training.config import SCHEDULES
from maze_core.training.divergence import DivergenceWatch
from maze_core.training.model_selection import BestModelSelection
from maze_core.training.optimizers import Optimizer
from maze_core.training.progress import Progress

BEST_MODEL_FILE = run_files.BEST_MODEL_FILE
CHECKPOINT_FILE = run_files.CHECKPOINT_FILE


@dataclasses.dataclass(frozen=True)
class Budget:
    """Where a ``train()`` call stops: after epoch ``epochs``, or at the end of the first iteration
    that brings the run to ``env_steps`` env steps (counted over the whole run; None: no such limit,
    both None: only early stopping, the target return or an interrupt end it)."""

    epochs: int | None = None
    env_steps: int | None = None

    def reached(self, epoch: int, env_steps: int) -> bool:
        return (self.epochs is not None and epoch >= self.epochs) or (
            self.env_steps is not None and env_steps >= self.env_steps
        )

    def describe(self, epoch: int, env_steps: int) -> str:
        """What is left, for a person: "100,000 env steps", "5 more epochs (until epoch 8)"."""
        if self.epochs is not None:
            left = self.epochs - epoch
            more = f"{left:,} {'more ' if epoch else ''}epoch{'s' if left != 1 else ''}"
            return f"{more} (until epoch {self.epochs})" if epoch else more
        if self.env_steps is not None:
            more = f"{self.env_steps - env_steps:,} {'more ' if env_steps else ''}env steps"
            return f"{more} (until {self.env_steps:,})" if env_steps else more
        return "no limit (until early stopping, the target return or Ctrl-C)"

    def as_config(self) -> dict[str, int]:
        """The config fields that plan this length (for a run's config.json; ``n_env_steps`` left
        out: its default, None)."""
        if self.env_steps is not None:
            return {"n_epochs": 0, "n_env_steps": self.env_steps}
        return {"n_epochs": self.epochs} if self.epochs else {"n_epochs": 0, "n_env_steps": 0}


def check_length(n_epochs: int | None, n_env_steps: int | None) -> None:
    """``train(n_epochs, n_env_steps)``'s arguments: at most one, an integer >= 0."""
    if n_epochs is not None and n_env_steps is not None:
        raise ConfigurationError("give the training length once: n_epochs or n_env_steps")
    for name, value in (("n_epochs", n_epochs), ("n_env_steps", n_env_steps)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ConfigurationError(f"{name}={value!r} is invalid: it must be an integer >= 0")


class Trainer(ABC):
    """What a runner needs from a trainer."""

    @abstractmethod
    def train(
        self, n_epochs: int | None = None, target_return: float | None = None, n_env_steps: int | None = None
    ) -> None:
        """Train ``n_epochs`` more epochs or ``n_env_steps`` more env steps (both None: up to the
        config's training length), optionally until the mean evaluation return reaches
        ``target_return``."""

    @abstractmethod
    def state_dict(self) -> dict: ...

    @abstractmethod
    def load_state_dict(self, state: dict) -> None: ...


class EpochTrainer(Trainer):
    """Epochs, evaluation, best-model selection, checkpoints, resume, signals and statistics.

    :param config: the algorithm's config (``epoch_length``, ``patience``, ``n_epochs``, and what
        the family reads).
    :param model: the model, already on the training device (``policy``, ``critic``,
        ``parameters()``, ``state_dict()``, ``train()``).
    :param collector: the source of experience (``collect``, ``epoch_stats()``, and optionally
        ``state_dict()``/``load_state_dict()``).
    :param evaluator: evaluates the policy after each epoch, or None (then the mean training
        return selects the best model).
    :param run_dir: where ``state_dict.pt`` and ``checkpoint.pt`` go (None: nowhere).
    :param eval_seed: seed of the evaluation episodes, the same every epoch so epochs compare fairly.
    :param progress: a :class:`~maze_core.training.progress.Progress` to report to (None: nothing).
    """

    #: the statistics that say how the algorithm's learning goes (losses, entropy, KL), in the order
    #: the console shows them from the first epoch on (those an update returns only sometimes
    #: included): in a pipe or file all of them, on a terminal as many as fit; never a setting
    #: that stays constant (a clip range). None: every statistic of the first epoch. All of them
    #: are in stats.jsonl and TensorBoard either way
    headline_statistics: ClassVar[tuple[str, ...] | None] = None

    #: how a statistic that an update returns is reduced over an epoch: "mean" (the default for
    #: names not given here), "last", "max", "min" or "sum", e.g. an exploration rate's last
    #: value: ``{"epsilon": "last"}``
    statistics_reduction: ClassVar[dict[str, str]] = {}

    def __init__(self, config, model, collector, evaluator=None, run_dir=None, eval_seed=None, progress=None):
        self.config = config
        self.model = model
        self.collector = collector
        self.evaluator = evaluator
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.eval_seed = eval_seed
        self.progress = progress
        self.device = next(iter(model.parameters())).device
        self.model_selection = BestModelSelection(
            dump_file=self.run_dir / BEST_MODEL_FILE if self.run_dir else None,
            model=model,
            extra_state=self._best_model_extras,
        )
        unknown = sorted(set(self.statistics_reduction.values()) - set(REDUCTIONS))
        if unknown:
            raise ConfigurationError(
                f"{type(self).__name__}.statistics_reduction names {', '.join(map(repr, unknown))}; "
                f"the reductions are {', '.join(REDUCTIONS)}"
            )
        self.epoch = 0
        self.env_steps = 0
        self.divergence = DivergenceWatch(config)  # warns when losses or the algorithm's limits blow up
        self.progress_remaining = 1.0  # fraction of the planned training still to come
        #: :class:`~maze_core.training.callbacks.Callback` instances of the current train() call
        self.callbacks: list = []
        self._budget = Budget()
        self._n_updates = 0
        self._update_hooks: list = []
        self._stopped_by: StopTraining | None = None

    # --- what a family defines ------------------------------------------------------------------

    @abstractmethod
    def _iteration(self, critic_only: bool) -> tuple[int, Iterable[dict[str, float]]]:
        """One iteration of an epoch: ``(env steps taken, statistics of each update made)``."""

    @abstractmethod
    def _optimizers(self) -> dict[str, Optimizer]:
        """The optimizers whose state checkpoints keep, by the checkpoint key they are saved under."""

    def _start_epoch(self) -> None:
        """Called before each epoch's first iteration (e.g. to check the model)."""

    def _epoch_statistics(self) -> dict[str, float]:
        """Statistics of the epoch's end logged under "algorithm" besides the updates' (e.g. the
        learning rate)."""
        return {}

    def scheduled(self, value: float, schedule: str) -> float:
        """``value`` under ``schedule`` ("constant", "linear": decaying to 0 at the last iteration
        of this ``train()`` call)."""
        return SCHEDULES[schedule](value, self.progress_remaining)

    def fraction_of_training(self) -> float:
        """The share of the run's planned training done so far (0 to 1), for schedules (an ε decaying
        over the first 10% of the env steps); needs a training length."""
        budget = self._budget
        if budget.env_steps is not None:
            return min(self.env_steps / budget.env_steps, 1.0)
        if budget.epochs is not None:
            return min(self._n_updates / (budget.epochs * self.config.epoch_length), 1.0)
        raise ConfigurationError(
            f"{type(self).__name__} schedules over the planned training, so it needs a training "
            "length: n_env_steps or n_epochs > 0 (in the algorithm config or as train(...))"
        )

    # --- the epoch loop -------------------------------------------------------------------------

    def budget(self, n_epochs: int | None = None, n_env_steps: int | None = None) -> Budget:
        """Where a ``train(n_epochs, n_env_steps)`` call would stop: ``n_epochs`` more epochs or
        ``n_env_steps`` more env steps (0: no limit), or with neither the config's training length,
        counted over the whole run (a resumed run trains what it had left)."""
        check_length(n_epochs, n_env_steps)
        if n_epochs is not None:
            return Budget(epochs=self.epoch + n_epochs if n_epochs else None)
        if n_env_steps is not None:
            return Budget(env_steps=self.env_steps + n_env_steps if n_env_steps else None)
        epochs, env_steps = self.config.training_length()
        return Budget(epochs=epochs or None, env_steps=env_steps or None)

    def train(
        self, n_epochs: int | None = None, target_return: float | None = None, n_env_steps: int | None = None
    ) -> None:
        """Train until :meth:`budget` is reached; stop early after ``patience`` epochs without
        improvement, once the mean evaluation return reaches ``target_return``, or when a callback
        raises :class:`~maze_core.training.callbacks.StopTraining`."""
        budget = self._budget = self.budget(n_epochs, n_env_steps)
        lr_schedule = getattr(self.config, "lr_schedule", "constant")
        if budget == Budget() and lr_schedule != "constant":
            raise ConfigurationError(
                f"lr_schedule={lr_schedule!r} decays over the planned training, so it needs a "
                "training length: n_env_steps or n_epochs > 0 (in the algorithm config or as train(...))"
            )
        self._n_updates = self.epoch * self.config.epoch_length
        self._update_hooks = [hook.on_update for hook in self.callbacks if overrides(hook, "on_update")]
        self._stopped_by = None
        (self.progress or Progress()).start(self.epoch, self.env_steps, budget)
        try:
            while not budget.reached(self.epoch, self.env_steps):
                reward = self._train_epoch()
                if self._stopped_by is not None:
                    reason = str(self._stopped_by)
                    statistics.log_message(f"A callback stopped training{': ' + reason if reason else '.'}")
                    break
                if target_return is not None and reward >= target_return:
                    statistics.log_message(
                        f"Mean return {reward:.2f} reached the target {target_return}: done."
                    )
                    break
                if self.config.patience and self.model_selection.last_improvement >= self.config.patience:
                    statistics.log_message(
                        f"No improvement for {self.config.patience} epochs: stopping early."
                    )
                    break
        except KeyboardInterrupt:
            with run_files.signals_held_back():  # a second Ctrl-C waits until this is done
                self.save_checkpoint()
            raise
        except TrainingError:
            raise  # the weights may be broken: keep the last good checkpoint on disk
        except BaseException:
            self.save_checkpoint()
            raise

    def _train_epoch(self) -> float:
        """One epoch; returns the mean return that selects the best model."""
        config = self.config
        critic_only = self.epoch < getattr(config, "critic_burn_in_epochs", 0)
        update_stats: dict[str, list[float]] = defaultdict(list)
        progress = self.progress or Progress()
        progress.start_epoch(self.epoch + 1, config.epoch_length)
        self._start_epoch()
        start = time.perf_counter()
        steps_this_epoch = 0
        self.model.train()
        for _ in range(config.epoch_length):
            if self._budget.env_steps is not None and self.env_steps >= self._budget.env_steps:
                break  # the budget ends inside this epoch: evaluate what was trained
            raise_if_terminated()
            self.progress_remaining = 1.0 - self._fraction_done()
            env_steps, updates = self._iteration(critic_only)
            self.env_steps += env_steps
            steps_this_epoch += env_steps
            for stats in updates:
                for name, value in stats.items():
                    update_stats[name].append(value)
            self._n_updates += 1
            progress.update_done(self.env_steps)
            if self._update_hooks:
                with self._stopping():
                    for stats in updates:
                        for hook in self._update_hooks:
                            hook(self.env_steps, stats)
                if self._stopped_by is not None:
                    break  # evaluate and checkpoint what was trained, then stop
        train_time = time.perf_counter() - start
        train_stats = self.collector.epoch_stats()
        algorithm_stats = {
            name: float(REDUCTIONS[self.statistics_reduction.get(name, "mean")](values))
            for name, values in update_stats.items()
        }
        algorithm_stats.update(
            self._epoch_statistics(),
            steps_per_second=steps_this_epoch / train_time,
            epoch_time=train_time,
            env_steps=self.env_steps,
        )
        statistics.log_stats("train", train_stats)
        statistics.log_stats("algorithm", algorithm_stats)
        self.divergence.check(self.epoch + 1, algorithm_stats)
        if self.evaluator is not None:
            progress.start_evaluation(getattr(self.evaluator, "n_episodes", None))
            eval_stats = self.evaluator.evaluate(
                self.model.policy, seed=self.eval_seed, prefix="eval", on_episode=progress.episode_done
            )
            reward = eval_stats.get("episode_return_mean", -math.inf)
        else:
            reward = train_stats.get("episode_return_mean", -math.inf)
        new_best = self.model_selection.update(reward)
        selection = {"new_best": int(new_best)}
        if math.isfinite(self.model_selection.best_reward):
            selection["best_return"] = self.model_selection.best_reward
        statistics.log_stats("model_selection", selection)
        progress.end_epoch(reward if math.isfinite(reward) else None)
        self.epoch += 1
        # the checkpoint and the epoch's line in stats.jsonl are one unit: an interrupt between the
        # two would leave a checkpoint one epoch ahead of the statistics that resume reads
        with run_files.signals_held_back():
            self.save_checkpoint()
            epoch_stats = statistics.increment_log_step(step=self.epoch)
        with self._stopping():
            for callback in self.callbacks:
                callback.on_epoch_end(self.epoch, epoch_stats)
        return reward

    def _fraction_done(self) -> float:
        """:meth:`fraction_of_training`, 0 without a training length."""
        return 0.0 if self._budget == Budget() else self.fraction_of_training()

    @contextlib.contextmanager
    def _stopping(self) -> Iterator[None]:
        """Around callbacks: a StopTraining they raise is kept, and training stops after this epoch."""
        try:
            yield
        except StopTraining as stop:
            self._stopped_by = stop

    # --- checkpoints ----------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """Everything needed to resume: weights, optimizer, counters, the collector's state (e.g.
        normalization statistics) and RNG states (no pickled code).

        An algorithm that keeps state of its own across updates (a schedule's position, a running
        estimate, a second optimizer) adds it here and reads it back in :meth:`load_state_dict`,
        both calling ``super()``; the values must be tensors, numbers, strings or containers of
        them, since checkpoints are loaded with ``weights_only=True`` (docs/writing-an-algorithm.md).
        """
        numpy_state = np.random.get_state()
        return {
            "trainer": _class_path(type(self)),
            "model": self.model.state_dict(),
            **{name: optimizer.state_dict() for name, optimizer in self._optimizers().items()},
            "epoch": self.epoch,
            "env_steps": self.env_steps,
            "model_selection": self.model_selection.state_dict(),
            "collector": self.collector.state_dict() if hasattr(self.collector, "state_dict") else {},
            "rng": {
                "torch": torch.get_rng_state(),
                "numpy": torch.from_numpy(numpy_state[1].astype(np.int64)),
                "numpy_pos": int(numpy_state[2]),
                "numpy_gauss": (int(numpy_state[3]), float(numpy_state[4])),
                "python": random.getstate()[1],
            },
        }

    def load_state_dict(self, state: dict) -> None:
        written_by = state.get("trainer", _class_path(type(self)))  # older checkpoints do not say
        if written_by != _class_path(type(self)):
            raise ConfigurationError(
                f"it was written by the trainer {written_by}, but the run is now configured for "
                f"{_class_path(type(self))}: one algorithm's optimizer state and counters do not "
                "continue another's; restore the run's algorithm in config.json, or start a new run"
            )
        self.model.load_state_dict(state["model"])
        for name, optimizer in self._optimizers().items():
            try:
                optimizer.load_state_dict(state[name])
            except (ValueError, KeyError) as error:  # e.g. one optimizer entry per parameter tensor
                raise ConfigurationError(
                    f"the {name} state in the checkpoint does not fit this model's parameters "
                    f"({error!r}); it comes from another model or an older Maze: start a new run "
                    "(or --overwrite)"
                ) from None
        self.epoch = int(state["epoch"])
        self.env_steps = int(state["env_steps"])
        self.model_selection.load_state_dict(state["model_selection"])
        if state.get("collector") and hasattr(self.collector, "load_state_dict"):
            self.collector.load_state_dict(state["collector"])
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        np.random.set_state(
            ("MT19937", rng["numpy"].numpy().astype(np.uint32), rng["numpy_pos"], *rng["numpy_gauss"])
        )
        random.setstate((3, tuple(rng["python"]), None))
        if self.run_dir is not None and (self.run_dir / BEST_MODEL_FILE).exists():
            self.model_selection.best_state_dict = run_files.load_torch(
                self.run_dir / BEST_MODEL_FILE, map_location=self.device
            )
        elif self.run_dir is not None:  # removed (e.g. it was damaged): the next epoch writes a new one
            self.model_selection.best_reward = -math.inf

    def _best_model_extras(self) -> dict:
        """What the best weights are kept with: the observation normalization statistics they were
        evaluated with (the checkpoint's are those of the last epoch)."""
        state = self.collector.state_dict() if hasattr(self.collector, "state_dict") else {}
        return {"normalization": state["normalization"]} if "normalization" in state else {}

    def save_checkpoint(self) -> None:
        if self.run_dir is not None:
            run_files.save_torch(self.state_dict(), self.run_dir / CHECKPOINT_FILE)


#: the reductions :attr:`EpochTrainer.statistics_reduction` may name
REDUCTIONS = {"mean": np.mean, "last": lambda values: values[-1], "max": np.max, "min": np.min, "sum": np.sum}


def _class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
