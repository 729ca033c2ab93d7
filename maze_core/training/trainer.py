"""The on-policy trainer: the base of A2C, PPO and every on-policy algorithm plugin.

``ActorCriticTrainer`` runs the shared epoch loop of :class:`~maze_core.training.epochs.EpochTrainer`
(evaluation, best model, checkpoints, resume); each of its iterations collects a fresh rollout and
hands it to the algorithm's :meth:`ActorCriticTrainer.update` (A2C in plugin ``maze-a2c``, PPO in
``maze-ppo``), which uses the helpers below; docs/writing-an-algorithm.md walks through one.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import torch

from maze_core.agent.memory import RecurrentMemory
from maze_core.errors import ConfigurationError, TrainingError
from maze_core.training import optimizers
from maze_core.training.batches import Minibatch, Rollout
from maze_core.training.config import OnPolicyAlgorithmConfig
from maze_core.training.epochs import (  # noqa: F401  (their home before the split)
    BEST_MODEL_FILE,
    CHECKPOINT_FILE,
    REDUCTIONS,
    EpochTrainer,
    Trainer,
)
from maze_core.training.flat_parameters import FlatParameters
from maze_core.training.returns import compute_gae


class ActorCriticTrainer(EpochTrainer):
    """On-policy actor-critic training: each iteration of an epoch is one :meth:`update` on a fresh
    rollout of ``n_rollout_steps`` steps per env. The arguments are
    :class:`~maze_core.training.epochs.EpochTrainer`'s; ``config`` is an
    :class:`~maze_core.training.config.OnPolicyAlgorithmConfig`, ``model`` a ``TorchActorCritic``
    and ``collector`` a rollout source (``collect(model, n_steps, ...)``, ``epoch_stats()``).
    """

    #: the config class this trainer reads: an algorithm's config must derive from it
    config_class: ClassVar[type] = OnPolicyAlgorithmConfig

    def __init__(self, config, model, collector, evaluator=None, run_dir=None, eval_seed=None, progress=None):
        self.flat = FlatParameters(list(model.policy.parameters()), list(model.critic.parameters()))
        super().__init__(config, model, collector, evaluator, run_dir, eval_seed, progress)
        self.optimizer = _optimizer([self.flat.parameter], config)
        self._learning_rate = config.lr

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

    @abstractmethod
    def update(self, rollout: Rollout, critic_only: bool) -> dict[str, float]:
        """Learn from one rollout (one or more gradient steps); return statistics to show and log
        (e.g. losses, entropy): each key is reduced over the epoch as :attr:`statistics_reduction`
        says (the mean by default) and logged under "algorithm". ``critic_only`` is true during the
        critic burn-in epochs."""

    # --- shared helpers for algorithms ----------------------------------------------------------

    def evaluate_actions(self, batch: Rollout | Minibatch):
        """Log-probs, entropies and values under the current weights, with gradients, each of the
        batch's shape: ``(T, N)`` for a rollout, ``(B,)`` for a minibatch. A recurrent model's
        batch is evaluated as sequences (:meth:`Rollout.sequences`), one call of each network per
        actor."""
        if isinstance(batch, Rollout) and batch.episode_starts is not None:
            return self._evaluate_sequences(batch.sequences(), batch.batch_shape)
        if any(transitions.sequences is not None for transitions in batch.actors.values()):
            return self._evaluate_sequences(batch.actors, batch.batch_shape)
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

    def _evaluate_sequences(self, actors, batch_shape: torch.Size):
        """:meth:`evaluate_actions` for sequences: each actor's padded ``(L, K)`` outputs placed at
        their steps' positions in the batch (:attr:`Sequences.index`)."""
        policy, critic = self.model.policy, self.model.critic
        outputs = [torch.zeros(batch_shape.numel(), device=self.device) for _ in range(3)]
        for actor_id, transitions in actors.items():
            sequences = transitions.sequences
            # padded, not packed: training needs no state after the sequences, and torch's cells
            # run padded batches two to three times faster on a CPU
            memories = [
                RecurrentMemory({} if states is None else {actor_id: states}, len(sequences.lengths))
                for states in (sequences.policy_states, sequences.critic_states)
            ]
            distribution = policy.distribution(transitions.observations, actor_id, memory=memories[0])
            learn = sequences.index >= 0
            values = (
                distribution.log_prob(transitions.actions, transitions.latents),
                distribution.entropy(),
                critic.predict_value(transitions.observations, actor_id, memory=memories[1]),
            )
            outputs = [
                output.index_put((sequences.index[learn],), value[learn])
                for output, value in zip(outputs, values, strict=True)
            ]
        return tuple(output.view(batch_shape) for output in outputs)

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

    # --- the family's iteration ---------------------------------------------------------------

    def _iteration(self, critic_only: bool):
        """Collect a rollout, set the scheduled learning rate, update on it."""
        config = self.config
        rollout = self.collector.collect(
            self.model,
            config.n_rollout_steps,
            behaviour=self.needs_behaviour,
            keep_reset_rows=self.handles_reset_rows,
        )
        if rollout.episode_starts is not None and rollout.policy_states is rollout.critic_states is None:
            raise ConfigurationError(
                "the rollout of this recurrent model carries no hidden states: its runner does not "
                "support recurrent models yet; use the dev or local runner"
            )
        self._learning_rate = self.scheduled(config.lr, config.lr_schedule)
        for group in self.optimizer.param_groups:
            group["lr"] = self._learning_rate
        # a rollout of reset-only rows alone has nothing to learn from
        updates = [self.update(rollout, critic_only)] if rollout.n_transitions else []
        return rollout.n_env_steps, updates  # a native env's reset-only rows are no env steps

    def _start_epoch(self) -> None:
        self.flat.check()  # the parameters are still views of the flat tensor

    def _epoch_statistics(self) -> dict[str, float]:
        return {"learning_rate": self._learning_rate}

    def _optimizers(self) -> dict[str, optimizers.Optimizer]:
        return {"optimizer": self.optimizer}


def _optimizer(parameters: list, config) -> optimizers.Optimizer:
    """The config's optimizer over the one flat parameter of :class:`FlatParameters`. Adam runs
    torch's fused kernel where the device has one: one kernel instead of a handful of tensor
    operations, a fifth of the time for a 64x64 actor-critic on CPU. RMSprop uses ``alpha=0.99``,
    as Stable-Baselines3's A2C does."""
    if config.optimizer == "rmsprop":
        return optimizers.RMSprop(parameters, lr=config.lr, alpha=0.99, eps=config.optimizer_eps)
    return optimizers.Adam(parameters, lr=config.lr, eps=config.optimizer_eps)
