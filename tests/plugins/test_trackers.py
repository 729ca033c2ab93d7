"""The experiment trackers of plugins maze-wandb and maze-mlflow, after a real ``maze train``: the
real libraries, W&B offline and MLflow on a local file store, so nothing leaves the machine."""

from __future__ import annotations

import json
import struct

import pytest
from shell import clean_env, maze

QUICK = [
    *("--set", "algorithm.epoch_length=2"),
    *("--set", "algorithm.n_rollout_steps=16"),
    *("--set", "runner.n_envs=2"),
    *("--set", "runner.eval_episodes=1"),
]


def wandb_history(run_file) -> list[dict]:
    """The history rows (one ``run.log()`` each) of a W&B run file: a W&B header, then records in
    LevelDB's log format (blocks of 32 KiB; each chunk: CRC, length, type; types 1 full, 4 last)."""
    from wandb.proto import wandb_internal_pb2

    data = run_file.read_bytes()
    assert data[:4] == b":W&B"
    rows, position, pending = [], 7, b""
    while position + 7 <= len(data):
        if 32768 - position % 32768 < 7:  # a block's tail too short for a chunk header is padding
            position += 32768 - position % 32768
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + 7])
        if not length and not kind:
            break
        pending += data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            if record.WhichOneof("record_type") == "history":
                items = record.history.item
                rows.append(
                    {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in items}
                )
    return rows


@pytest.mark.slow  # about 10 s of CPU: two trackers start (W&B its own service)
def test_a_cli_run_logs_each_epochs_return_to_wandb_offline_and_to_an_mlflow_file_store(
    tmp_path, monkeypatch
):
    pytest.importorskip("wandb")
    from mlflow.tracking import MlflowClient

    store = f"file:{tmp_path / 'mlruns'}"
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 asks for it (for this client too)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")  # else MLflow looks up its telemetry server
    wandb_dirs = {f"WANDB_{name}_DIR": str(tmp_path / "wandb-home") for name in ("CONFIG", "CACHE", "DATA")}
    env = clean_env(
        WANDB_MODE="offline",
        WANDB_DIR=str(tmp_path),
        WANDB_SILENT="true",
        **wandb_dirs,
        MLFLOW_TRACKING_URI=store,
        MLFLOW_ALLOW_FILE_STORE="true",
        MLFLOW_DISABLE_TELEMETRY="true",
    )
    run_dir = tmp_path / "run"
    maze(
        *("train", "--env", "CartPole-v1", "--epochs", "2", "--seed", "0", "--run-dir", run_dir),
        *("--tracker", "wandb", "--tracker", "mlflow", *QUICK),
        env=env,
        cwd=tmp_path,
    )
    lines = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    returns = [(line["algorithm"]["env_steps"], line["eval"]["episode_return_mean"]) for line in lines]
    assert len(returns) == 2

    [run_file] = tmp_path.glob("wandb/offline-run-*/run-*.wandb")
    history = wandb_history(run_file)
    assert [(row["_step"], row["eval/episode_return_mean"]) for row in history] == returns
    assert [row["epoch"] for row in history] == [1, 2]

    client = MlflowClient(tracking_uri=store)
    [run] = client.search_runs(experiment_ids=["0"])
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    metrics = client.get_metric_history(run.info.run_id, "eval/episode_return_mean")
    assert [(metric.step, metric.value) for metric in metrics] == returns
    assert run.data.params["algorithm.name"] == "a2c" and run.data.params["seed"] == "0"


def test_an_mlflow_store_it_cannot_use_is_one_line_before_anything_is_built(tmp_path, monkeypatch):
    from maze_core import RunContext
    from maze_core.errors import ConfigurationError

    store = f"file:{tmp_path / 'mlruns'}"  # without MLFLOW_ALLOW_FILE_STORE, which MLflow 3 asks for
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    rc = RunContext(env="CartPole-v1", run_dir=tmp_path / "run", silent=True)
    message = rf"^MLflow cannot use the tracking store {store} \(.*maintenance mode[^)]*\): set MLFLOW_"
    with pytest.raises(ConfigurationError, match=message):
        rc.train(callbacks=["mlflow"])
    assert not (tmp_path / "run").exists()
