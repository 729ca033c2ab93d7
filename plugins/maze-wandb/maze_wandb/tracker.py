"""The Weights & Biases tracker: a Maze run's configuration and per-epoch statistics in a W&B run."""

from __future__ import annotations

import os

from maze_core.errors import ConfigurationError
from maze_core.training.callbacks import Callback, RunInfo, env_steps_at, flat_statistics


class WandbTracker(Callback):
    """Logs each ``train()`` call as a W&B run: the run's config.json as its config, and every
    epoch's statistics (``eval/episode_return_mean``, ``algorithm/policy_loss``, ...) against the
    run's env steps, as TensorBoard shows them.

    W&B's own environment variables configure it: ``WANDB_PROJECT`` (default ``maze``),
    ``WANDB_ENTITY``, ``WANDB_API_KEY`` (or ``wandb login``), ``WANDB_DIR`` (where its files go;
    default the working directory) and ``WANDB_MODE=offline`` (local files only, uploaded later by
    ``wandb sync``).
    """

    def __init__(self) -> None:
        import wandb

        self._wandb = wandb
        self._run = None

    def on_train_start(self, run: RunInfo) -> None:
        try:
            self._run = self._wandb.init(
                project=os.environ.get("WANDB_PROJECT", "maze"),
                name=run.run_dir.name,
                config={**run.config, "run_dir": str(run.run_dir)},
                reinit="create_new",  # one W&B run per train() call, several in a process
            )
        except self._wandb.errors.Error as error:
            raise ConfigurationError(
                f"W&B could not start a run ({error}): log in with `wandb login` or WANDB_API_KEY, "
                "or set WANDB_MODE=offline to keep it in local files"
            ) from None

    def on_epoch_end(self, epoch: int, stats: dict[str, dict[str, float]]) -> None:
        self._run.log({**flat_statistics(stats), "epoch": epoch}, step=env_steps_at(epoch, stats))

    def on_train_end(self, error: BaseException | None) -> None:
        if self._run is not None:
            self._run.finish(exit_code=0 if error is None else 1)
            self._run = None
