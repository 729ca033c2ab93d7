"""The off-policy trainer: the base of SAC, DQN and every off-policy algorithm plugin.

``OffPolicyTrainer`` runs the shared epoch loop of :class:`~maze_core.training.epochs.EpochTrainer`
(evaluation, best model, checkpoints, resume, signals, statistics). Each of its iterations collects
``train_freq`` steps per env with the behaviour policy into a :class:`ReplayBuffer` and, once
``learning_starts`` env steps are in, hands ``gradient_steps`` sampled batches to the algorithm's
:meth:`OffPolicyTrainer.update`. The algorithm builds what it learns with in :meth:`setup`: target
copies (:meth:`target_copy`), optimizers per part (:meth:`add_optimizer`) and extra trainable
parameters (:meth:`add_parameter`), all of which checkpoints keep. docs/writing-an-algorithm.md
has an example.
"""

from __future__ import annotations

import copy
from abc import abstractmethod
from collections.abc import Iterable
from typing import ClassVar

import torch
from torch import nn

from maze_core import run_dir as run_files
from maze_core import statistics
from maze_core.errors import TrainingError
from maze_core.training import optimizers
from maze_core.training.config import OffPolicyAlgorithmConfig
from maze_core.training.epochs import EpochTrainer
from maze_core.training.replay import ReplayBatch, ReplayBuffer


class OffPolicyTrainer(EpochTrainer):
    """Off-policy training from a replay buffer. The arguments are
    :class:`~maze_core.training.epochs.EpochTrainer`'s; ``config`` is an
    :class:`~maze_core.training.config.OffPolicyAlgorithmConfig`."""

    #: the config class this trainer reads: an algorithm's config must derive from it
    config_class: ClassVar[type] = OffPolicyAlgorithmConfig

    def __init__(self, config, model, collector, evaluator=None, run_dir=None, eval_seed=None, progress=None):
        super().__init__(config, model, collector, evaluator, run_dir, eval_seed, progress)
        # a collector of an off-policy run tells its envs' number and spaces (one actor)
        step_key = next(iter(collector.observation_spaces_dict))
        self.n_envs = collector.n_envs
        self.replay = ReplayBuffer(
            collector.observation_spaces_dict[step_key],
            collector.action_spaces_dict[step_key],
            config.buffer_size,
        )
        self.optimizers: dict[str, optimizers.Optimizer] = {}
        self.extra_parameters: dict[str, nn.Parameter] = {}
        self.targets: dict[str, nn.Module] = {}
        self.n_gradient_steps = 0
        self._updates_from = config.learning_starts  # env steps before the first update
        self._note: str | None = None
        self.setup()

    # --- the algorithm's part -------------------------------------------------------------------

    def setup(self) -> None:
        """Build targets, optimizers and extra parameters (called at the end of ``__init__``)."""

    def before_collect(self) -> None:
        """Called before each collection: set the behaviour policy's exploration (e.g. an ε from
        :meth:`fraction_of_training`)."""

    @abstractmethod
    def update(self, batch: ReplayBatch) -> dict[str, float]:
        """One gradient step (or one per optimizer) on a sampled batch; returns statistics, reduced
        over the epoch as :attr:`statistics_reduction` says (the mean by default)."""

    # --- helpers for algorithms -----------------------------------------------------------------

    def add_optimizer(self, name: str, parameters: Iterable[nn.Parameter], lr: float) -> optimizers.Adam:
        """An Adam optimizer (:mod:`maze_core.training.optimizers`) over ``parameters``, kept in
        checkpoints under ``name``. It runs torch's fused kernel where the device has one (CPU,
        CUDA): one kernel for all parameters instead of several per tensor, which measured 19% off a
        DQN gradient step (docs/benchmarks.md, B10)."""
        optimizer = optimizers.Adam(parameters, lr=lr)
        self.optimizers[name] = optimizer
        return optimizer

    def add_parameter(self, name: str, value: torch.Tensor) -> nn.Parameter:
        """A trainable tensor of the algorithm's own (e.g. SAC's log temperature), on the training
        device and kept in checkpoints under ``name``."""
        parameter = nn.Parameter(torch.as_tensor(value, dtype=torch.float32, device=self.device).clone())
        self.extra_parameters[name] = parameter
        return parameter

    def target_copy(self, name: str, module):
        """A frozen copy of ``module`` (an ``nn.Module`` or a Maze critic or policy) that follows it
        through :meth:`update_target`, kept in checkpoints under ``name``."""
        target = copy.deepcopy(module)
        for parameter in target.parameters():
            parameter.requires_grad_(False)
        self.targets[name] = target
        return target

    @torch.no_grad()
    def update_target(self, name: str, source: nn.Module, tau: float | None = None) -> None:
        """Polyak update ``target <- tau * source + (1 - tau) * target`` (``tau`` 1: a hard copy;
        None: the config's ``tau``) of the parameters and buffers of target ``name``."""
        tau = self.config.tau if tau is None else tau
        target_tensors, source_tensors = _tensors(self.targets[name]), _tensors(source)
        if tau == 1.0:
            torch._foreach_copy_(target_tensors, source_tensors)
        else:
            torch._foreach_lerp_(target_tensors, source_tensors, tau)

    def target_update_due(self) -> bool:
        """Whether this gradient step is one of every ``target_update_interval``."""
        return self.n_gradient_steps % self.config.target_update_interval == 0

    def optimize(self, name: str, loss: torch.Tensor) -> float:
        """Backward pass of ``loss``, optional clipping (``max_grad_norm``), a step of optimizer
        ``name``; returns the gradient norm of its parameters."""
        if not torch.isfinite(loss):
            raise TrainingError(
                f"the {name} loss became {loss.item()} in epoch {self.epoch + 1}; the model was not "
                "updated. Lower the learning rate, clip gradients (max_grad_norm) or check the env's "
                "rewards and observations for NaN/inf."
            )
        optimizer = self.optimizers[name]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        parameters = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        max_norm = self.config.max_grad_norm or float("inf")
        norm = torch.nn.utils.clip_grad_norm_(parameters, max_norm, foreach=True)
        optimizer.step()
        return norm.item()

    # --- the family's iteration ---------------------------------------------------------------

    def _iteration(self, critic_only: bool):
        """Collect ``train_freq`` steps per env into the buffer, then ``gradient_steps`` updates."""
        config = self.config
        self.before_collect()
        rollout = self.collector.collect(
            self.model, config.train_freq, behaviour=False, keep_reset_rows=False, next_observations=True
        )
        self.replay.add(rollout)
        updates = []
        if self.env_steps + rollout.n_env_steps >= self._updates_from:
            for _ in range(config.gradient_steps):
                updates.append(self.update(self.replay.sample(config.batch_size, self.device)))
                self.n_gradient_steps += 1
        return rollout.n_env_steps, updates

    def _start_epoch(self) -> None:
        if self._note:
            statistics.log_message(self._note)
            self._note = None

    def _optimizers(self) -> dict[str, optimizers.Optimizer]:
        return {f"optimizer/{name}": optimizer for name, optimizer in self.optimizers.items()}

    # --- checkpoints ----------------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {
            **super().state_dict(),
            "extra_parameters": {name: p.detach().clone() for name, p in self.extra_parameters.items()},
            "targets": {name: target.state_dict() for name, target in self.targets.items()},
            "n_gradient_steps": self.n_gradient_steps,
            "updates_from": self._updates_from,
        }

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        with torch.no_grad():
            for name, parameter in self.extra_parameters.items():
                parameter.copy_(state["extra_parameters"][name])
        for name, target in self.targets.items():
            target.load_state_dict(state["targets"][name])
        self.n_gradient_steps = int(state["n_gradient_steps"])
        self._updates_from = int(state["updates_from"])
        replay_file = None if self.run_dir is None else self.run_dir / run_files.REPLAY_BUFFER_FILE
        if self.config.save_replay_buffer and replay_file is not None and replay_file.exists():
            self.replay.load_state_dict(run_files.load_torch(replay_file))
        elif self.env_steps:
            self._updates_from = self.env_steps + self.config.learning_starts
            self._note = (  # shown when training starts: the console does not exist yet
                f"The replay buffer starts empty (save_replay_buffer is off or its file is missing): "
                f"updates resume after it refills for learning_starts={self.config.learning_starts} "
                "env steps."
            )

    def save_checkpoint(self) -> None:
        super().save_checkpoint()
        if self.run_dir is not None and self.config.save_replay_buffer:
            run_files.save_torch(self.replay.state_dict(), self.run_dir / run_files.REPLAY_BUFFER_FILE)


def _tensors(model) -> list[torch.Tensor]:
    """The parameters and buffers of a module, or of the networks of a Maze model (a critic)."""
    modules = model.networks.values() if hasattr(model, "networks") else [model]
    return [tensor for module in modules for tensor in (*module.parameters(), *module.buffers())]
