"""Trainers. The base class owns the epoch loop; an algorithm only defines its update.

``ActorCriticTrainer`` runs epochs of ``epoch_length`` updates, each on a fresh rollout from the
collector; after every epoch it evaluates the policy, keeps the best weights in ``state_dict.pt``,
writes a resumable ``checkpoint.pt``, logs statistics and applies early stopping. An algorithm
(A2C in plugin ``maze-a2c``, PPO in ``maze-ppo``) implements :meth:`ActorCriticTrainer.update`
with the helpers below; docs/writing-an-algorithm.md walks through one.
"""

from __future__ import annotations

import math
import random
import sys
import time
from abc import ABC, abstractmethod
from collections import defaultdict
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from maze_core import run_dir as run_files
from maze_core import statistics
from maze_core.errors import ConfigurationError, TrainingError, raise_if_terminated
from maze_core.training.batches import Minibatch, Rollout
from maze_core.training.config import SCHEDULES, OnPolicyAlgorithmConfig
from maze_core.training.flat_parameters import FlatParameters
from maze_core.training.model_selection import BestModelSelection
from maze_core.training.progress import Progress
from maze_core.training.returns import compute_gae

BEST_MODEL_FILE = run_files.BEST_MODEL_FILE
CHECKPOINT_FILE = run_files.CHECKPOINT_FILE


class Trainer(ABC):
    """What a runner needs from a trainer."""

    @abstractmethod
    def train(self, n_epochs: int | None = None, target_return: float | None = None) -> None:
        """Train ``n_epochs`` more epochs (None: the config's ``n_epochs``), optionally until the mean
        evaluation return reaches ``target_return``."""

    @abstractmethod
    def state_dict(self) -> dict: ...

    @abstractmethod
    def load_state_dict(self, state: dict) -> None: ...


class ActorCriticTrainer(Trainer):
    """On-policy actor-critic training loop.

    :param config: an :class:`~maze_core.training.config.OnPolicyAlgorithmConfig`.
    :param model: a ``TorchActorCritic`` already on the training device.
    :param collector: rollout source (``collect(policy, n_steps)``, ``epoch_stats()``).
    :param evaluator: evaluates the policy after each epoch, or None (then the mean training
        return selects the best model).
    :param run_dir: where ``state_dict.pt`` and ``checkpoint.pt`` go (None: nowhere).
    :param eval_seed: seed of the evaluation episodes, the same every epoch so epochs compare fairly.
    :param progress: a :class:`~maze_core.training.progress.Progress` to report to (None: nothing).
    """

    #: the config class this trainer reads: an algorithm's config must derive from it
    config_class: ClassVar[type] = OnPolicyAlgorithmConfig

    def __init__(self, config, model, collector, evaluator=None, run_dir=None, eval_seed=None, progress=None):
        self.config = config
        self.model = model
        self.collector = collector
        self.evaluator = evaluator
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.eval_seed = eval_seed
        self.progress = progress
        self.flat = FlatParameters(list(model.policy.parameters()), list(model.critic.parameters()))
        self.device = self.flat.data.device
        self.optimizer = _optimizer([self.flat.parameter], config)
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
        self.progress_remaining = 1.0  # fraction of this train() call's updates still to come
        self._n_updates, self._last_update = 0, sys.maxsize

    # --- the algorithm's part -------------------------------------------------------------------

    #: whether :meth:`update` reads what the policy and critic computed while acting: the
    #: rollout's behaviour ``log_probs`` and ``values`` (off-policy corrections such as PPO's ratio
    #: and value clipping need them). A strictly on-policy algorithm that evaluates the rollout with
    #: gradients anyway (A2C) sets False and passes its own values to :meth:`advantages_and_returns`:
    #: the collector then skips the log-probs and its critic pass over the rollout
    needs_behaviour: bool = True

    #: whether :meth:`update` leaves a next-step env's reset-only rows (``rollout.valid``) out of
    #: its losses itself, through :meth:`Rollout.minibatches` or :meth:`Rollout.valid_only` (A2C
    #: and PPO do). False (the default): the rollouts it gets hold none, as the collector leaves
    #: them out, and with them the surplus transitions of envs that had fewer episode ends (up to
    #: 1 in ``n_rollout_steps + 1`` env steps with many envs; counted in ``env_steps``)
    handles_reset_rows: ClassVar[bool] = False

    #: the statistics of :meth:`update` the console shows, in this order, from the first epoch on
    #: (those an update returns only sometimes included); None: those of the first epoch
    console_statistics: ClassVar[tuple[str, ...] | None] = None

    #: how a statistic that :meth:`update` returns is reduced over an epoch's updates: "mean"
    #: (the default for names not given here), "last", "max", "min" or "sum", e.g. an exploration
    #: rate's last value: ``{"epsilon": "last"}``
    statistics_reduction: ClassVar[dict[str, str]] = {}

    @abstractmethod
    def update(self, rollout: Rollout, critic_only: bool) -> dict[str, float]:
        """Learn from one rollout (one or more gradient steps); return statistics to show and log
        (e.g. losses, entropy): each key is reduced over the epoch as :attr:`statistics_reduction`
        says (the mean by default) and logged under "algorithm". ``critic_only`` is true during the
        critic burn-in epochs."""

    # --- shared helpers for algorithms ----------------------------------------------------------

    def evaluate_actions(self, batch: Rollout | Minibatch):
        """Log-probs, entropies and values under the current weights, with gradients, each of the
        batch's shape: ``(T, N)`` for a rollout, ``(B,)`` for a minibatch."""
        policy, critic = self.model.policy, self.model.critic
        results = []
        for actor_id, transitions in batch.actors.items():
            distribution = policy.distribution(transitions.observations, actor_id=actor_id)
            results.append(
                (
                    transitions.rows,
                    distribution.log_prob(transitions.actions, transitions.latents),
                    distribution.entropy(),
                    critic.predict_value(transitions.observations, actor_id=actor_id),
                )
            )
        if len(results) == 1 and len(results[0][0]) == batch.batch_shape[0]:  # one actor took every step
            return results[0][1:]
        outputs = [torch.zeros(batch.batch_shape, device=self.device) for _ in range(3)]
        for rows, *values in results:
            outputs = [
                output.index_put((rows,), value) for output, value in zip(outputs, values, strict=True)
            ]
        return tuple(outputs)

    @torch.no_grad()
    def advantages_and_returns(
        self, rollout: Rollout, values: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """GAE advantages and returns ``(T, N)`` from the values the critic gave while acting, or
        from ``values`` ``(T, N)``: the algorithm's own values of the rollout's observations."""
        if values is None:
            if rollout.values is None:
                raise ValueError(
                    "this rollout was collected without values (needs_behaviour=False): pass the "
                    "algorithm's own values of its observations, advantages_and_returns(rollout, values)"
                )
            values, next_values = rollout.values, rollout.next_values
        else:
            values = values.detach()
            next_values = rollout.next_values_from(values)
        discounts = torch.where(rollout.env_step_ends, self.config.gamma, 1.0).to(values.dtype)
        return compute_gae(
            rollout.rewards,
            values,
            next_values,
            rollout.terminated,
            rollout.terminated | rollout.truncated,
            discounts,
            self.config.gae_lambda,
        )

    def normalize_advantages(self, advantages: torch.Tensor) -> torch.Tensor:
        """Mean 0, std 1 if the config's ``normalize_advantages`` is on; one sample stays as it is."""
        if not self.config.normalize_advantages or advantages.numel() < 2:
            return advantages
        std, mean = torch.std_mean(advantages)
        return (advantages - mean) / (std + 1e-8)

    def scheduled(self, value: float, schedule: str) -> float:
        """``value`` under ``schedule`` ("constant", "linear": decaying to 0 at the last update)."""
        return SCHEDULES[schedule](value, self.progress_remaining)

    def gradient_step(self, loss: torch.Tensor) -> dict[str, float]:
        """Backward pass, optional clipping (``max_grad_norm`` 0 = none), optimizer step."""
        if not torch.isfinite(loss):
            raise TrainingError(
                f"the loss became {loss.item()} in epoch {self.epoch + 1}; the model was not updated. "
                "Lower the learning rate, clip gradients (max_grad_norm) or check the env's rewards "
                "and observations for NaN/inf."
            )
        flat = self.flat
        flat.zero_grad()
        loss.backward()
        policy_norm, critic_norm = flat.norms()
        max_norm = self.config.max_grad_norm
        if max_norm > 0:  # what torch.nn.utils.clip_grad_norm_ does, on the one flat gradient
            flat.grad.mul_((max_norm / (flat.grad.norm() + 1e-6)).clamp_(max=1.0))
        self.optimizer.step()
        return {"policy_grad_norm": policy_norm.item(), "critic_grad_norm": critic_norm.item()}

    # --- the epoch loop -------------------------------------------------------------------------

    def train(self, n_epochs: int | None = None, target_return: float | None = None) -> None:
        """Train ``n_epochs`` more epochs (0: no limit); stop early after ``patience`` epochs without
        improvement or once the mean evaluation return reaches ``target_return``."""
        n_epochs = self.config.n_epochs if n_epochs is None else n_epochs
        last_epoch = self.epoch + n_epochs if n_epochs > 0 else sys.maxsize
        if last_epoch == sys.maxsize and self.config.lr_schedule != "constant":
            raise ConfigurationError(
                f"lr_schedule={self.config.lr_schedule!r} decays over the planned epochs, so it needs "
                "n_epochs > 0 (in the algorithm config or as train(n_epochs=...))"
            )
        self._n_updates = self.epoch * self.config.epoch_length
        self._last_update = last_epoch * self.config.epoch_length
        (self.progress or Progress()).start(self.epoch, n_epochs)
        try:
            while self.epoch < last_epoch:
                reward = self._train_epoch()
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
                statistics.log_message(
                    "Interrupted: the best model and a resumable checkpoint are kept."
                    if self.model_selection.best_state_dict is not None
                    else "Interrupted before the first epoch finished: a resumable checkpoint is kept, "
                    "no best model yet."
                )
            raise
        except TrainingError:
            raise  # the weights may be broken: keep the last good checkpoint on disk
        except BaseException:
            self.save_checkpoint()
            raise

    def _train_epoch(self) -> float:
        """One epoch; returns the mean return that selects the best model."""
        config = self.config
        critic_only = self.epoch < config.critic_burn_in_epochs
        update_stats: dict[str, list[float]] = defaultdict(list)
        progress = self.progress or Progress()
        progress.start_epoch(self.epoch + 1, config.epoch_length)
        self.flat.check()
        start = time.perf_counter()
        steps_this_epoch = 0
        self.model.train()
        for _ in range(config.epoch_length):
            raise_if_terminated()
            rollout = self.collector.collect(
                self.model,
                config.n_rollout_steps,
                behaviour=self.needs_behaviour,
                keep_reset_rows=self.handles_reset_rows,
            )
            self.env_steps += rollout.n_env_steps  # a native env's reset-only rows are no env steps
            steps_this_epoch += rollout.n_env_steps
            self.progress_remaining = 1.0 - self._n_updates / self._last_update
            learning_rate = self.scheduled(config.lr, config.lr_schedule)
            for group in self.optimizer.param_groups:
                group["lr"] = learning_rate
            if rollout.n_transitions:  # a rollout of reset-only rows alone has nothing to learn from
                for name, value in self.update(rollout, critic_only).items():
                    update_stats[name].append(value)
            self._n_updates += 1
            progress.update_done(self.env_steps)
        train_time = time.perf_counter() - start
        train_stats = self.collector.epoch_stats()
        algorithm_stats = {
            name: float(REDUCTIONS[self.statistics_reduction.get(name, "mean")](values))
            for name, values in update_stats.items()
        }
        algorithm_stats.update(
            learning_rate=learning_rate,
            steps_per_second=steps_this_epoch / train_time,
            epoch_time=train_time,
            env_steps=self.env_steps,
        )
        statistics.log_stats("train", train_stats)
        statistics.log_stats("algorithm", algorithm_stats)
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
            statistics.increment_log_step(step=self.epoch)
        return reward

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
            "optimizer": self.optimizer.state_dict(),
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
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except ValueError as error:  # e.g. a checkpoint with one optimizer entry per parameter tensor
            raise ConfigurationError(
                f"the optimizer state in the checkpoint does not fit this model's parameters ({error}); "
                "it comes from another model or an older Maze: start a new run (or --overwrite)"
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


#: the reductions :attr:`ActorCriticTrainer.statistics_reduction` may name
REDUCTIONS = {"mean": np.mean, "last": lambda values: values[-1], "max": np.max, "min": np.min, "sum": np.sum}


def _class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _optimizer(parameters: list, config) -> torch.optim.Optimizer:
    """The config's optimizer (over the one flat parameter of :class:`FlatParameters`); Adam with
    the fused implementation where the device supports it: one kernel instead of a handful of
    tensor operations, a fifth of the time for a 64x64 actor-critic on CPU; results agree up to
    float rounding. RMSprop uses ``alpha=0.99``, as Stable-Baselines3's A2C does.
    """
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(
            parameters, lr=config.lr, alpha=0.99, eps=config.optimizer_eps, foreach=True
        )
    try:
        return torch.optim.Adam(parameters, lr=config.lr, eps=config.optimizer_eps, fused=True)
    except (RuntimeError, ValueError):  # a device or dtype without a fused kernel
        return torch.optim.Adam(parameters, lr=config.lr, eps=config.optimizer_eps)
