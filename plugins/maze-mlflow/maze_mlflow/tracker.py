"""The MLflow tracker: a Maze run's configuration and per-epoch statistics in an MLflow run."""

from __future__ import annotations

import json

from maze_core.errors import ConfigurationError
from maze_core.training.callbacks import Callback, RunInfo, env_steps_at, flat_statistics


class MlflowTracker(Callback):
    """Logs each ``train()`` call as an MLflow run: the run's config.json as parameters
    (``algorithm.lr``, ``runner.n_envs``, ...), and every epoch's statistics
    (``eval/episode_return_mean``, ...) as metrics at the run's env steps. Started inside an active
    MLflow run, it becomes a child of it. Its status says how training ended (finished, killed by
    Ctrl-C, failed).

    MLflow's own environment variables configure it: ``MLFLOW_TRACKING_URI`` (a tracking server's
    URL, or a local ``file:`` store, which MLflow 3 accepts with ``MLFLOW_ALLOW_FILE_STORE=true``)
    and ``MLFLOW_EXPERIMENT_NAME``; ``MLFLOW_DISABLE_TELEMETRY=true`` stops MLflow's own usage
    telemetry. The plugin installs the client alone (``mlflow-skinny``), which cannot write
    MLflow's default sqlite store: ``pip install mlflow`` adds it.
    """

    def __init__(self) -> None:
        import mlflow

        try:  # reach the store now, before the run is built: a store it cannot use fails here
            mlflow.MlflowClient().search_experiments(max_results=1)
        except Exception as error:  # noqa: BLE001  (whatever the store's kind, one line)
            reason = (str(error).strip() or type(error).__name__).splitlines()[0].split(". ")[0]
            raise ConfigurationError(
                f"MLflow cannot use the tracking store {mlflow.get_tracking_uri()} ({reason}): set "
                "MLFLOW_TRACKING_URI to your tracking server (http://...) or a file store (file:./mlruns "
                "with MLFLOW_ALLOW_FILE_STORE=true); its default sqlite store needs pip install mlflow"
            ) from None
        self._mlflow = mlflow
        self._run = None

    def on_train_start(self, run: RunInfo) -> None:
        mlflow = self._mlflow
        config = {key: value for key, value in run.config.items() if key != "arguments"}  # said twice
        self._run = mlflow.start_run(
            run_name=run.run_dir.name,
            nested=mlflow.active_run() is not None,
            tags={"maze.run_dir": str(run.run_dir)},
        )
        mlflow.log_params(_flat_params(config))

    def on_epoch_end(self, epoch: int, stats: dict[str, dict[str, float]]) -> None:
        metrics = {**flat_statistics(stats), "epoch": epoch}
        self._mlflow.log_metrics(metrics, step=env_steps_at(epoch, stats), run_id=self._run.info.run_id)

    def on_train_end(self, error: BaseException | None) -> None:
        if self._run is None:
            return
        status = (
            "FINISHED" if error is None else "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED"
        )
        self._mlflow.end_run(status=status)
        self._run = None


def _flat_params(config: dict, prefix: str = "") -> dict[str, str]:
    """``{"algorithm": {"lr": 0.001}}`` as ``{"algorithm.lr": "0.001"}`` (MLflow's parameters are
    strings)."""
    params = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            params.update(_flat_params(value, f"{name}."))
        else:
            params[name] = value if isinstance(value, str) else json.dumps(value)
    return params
