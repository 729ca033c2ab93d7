"""B7: the ray runner against the dev runner, and what one update costs on the ray runner.

Training runs use A2C with the tutorial's values (100-step rollouts, default [256, 256] networks)
except 5 updates per epoch, no evaluation, an untimed warm-up epoch first (which also starts the
private Ray instance and the workers). The dev runner steps its 4 envs in the training process; the
ray runner steps ``n_workers x envs_per_worker`` envs in Ray actors.

:func:`update_costs` times the parts of one update directly, on one private Ray instance: a bare
actor round trip, putting the weights into the object store, a whole collect call of the ray
runner, the same rollout collected by one worker's code in this process, the dev runner's
in-process collection, and the learner's A2C update for several batch sizes. The scaling model of
``docs/distributed.md`` is built from these numbers.

Ray runs in a private network namespace where this process may make one (as root, see
:func:`maze_ray.testing.isolate_network`), so that it binds loopback only.
"""

from __future__ import annotations

import statistics
import time

from benchmarks.common import Stopwatch

EPOCH_LENGTH = 5
N_ROLLOUT_STEPS = 100


def _config():
    from maze_a2c import A2CAlgorithmConfig

    return A2CAlgorithmConfig(patience=0, epoch_length=EPOCH_LENGTH, n_rollout_steps=N_ROLLOUT_STEPS)


def train(env, runner: str, steps: int, seed: int = 0, n_envs: int = 4, n_workers: int = 2) -> Stopwatch:
    """Env steps per second of a training run: the dev runner with ``n_envs`` envs, or the ray
    runner with ``n_workers`` workers of ``n_envs // n_workers`` envs."""
    from benchmarks.throughput import _timed_maze_run

    if runner == "ray":
        overrides = {"runner.n_workers": n_workers, "runner.envs_per_worker": n_envs // n_workers}
    else:
        overrides = {"runner.n_envs": n_envs}
    return _timed_maze_run(env, _config(), runner, overrides, steps, seed)


def _median_ms(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def update_costs(env_factory, envs_per_worker: int = 2, repeats: int = 20) -> dict:
    """Milliseconds per part of one update (medians), on a private Ray instance with 2 CPUs."""
    import ray
    from maze_ray.collector import RayCollector
    from maze_ray.worker import RolloutWorker, flat_weights

    from maze_core import RunContext
    from maze_core.env.vector import SequentialVectorEnv
    from maze_core.training.rollout import VectorEnvCollector

    rc = RunContext(env=env_factory, algorithm=_config(), runner="dev", seed=0, silent=True)
    rc._build_model()
    model = rc._model
    results: dict = {"envs_per_worker": envs_per_worker, "n_rollout_steps": N_ROLLOUT_STEPS}

    # in this process: one worker's rollout, the dev runner's rollout, the learner's update
    worker = RolloutWorker(env_factory, model, n_envs=envs_per_worker, seed=0)
    weights = flat_weights(model)
    results["worker_rollout_ms"] = _median_ms(lambda: worker.collect(weights, N_ROLLOUT_STEPS), repeats)
    results["worker_1_step_ms"] = _median_ms(lambda: worker.collect(weights, 1), repeats)
    worker.close()
    learner = {}
    for n_envs in (2, 4, 8, 16):
        collector = VectorEnvCollector(SequentialVectorEnv([env_factory] * n_envs), seed=0)
        rollout = collector.collect(model, N_ROLLOUT_STEPS)
        if n_envs == 4:
            results["dev_rollout_4_envs_ms"] = _median_ms(
                lambda c=collector: c.collect(model, N_ROLLOUT_STEPS), repeats
            )
        collector.close()
        trainer = _trainer(model)
        learner[str(n_envs)] = _median_ms(lambda r=rollout, t=trainer: t.update(r, False), repeats)
    results["learner_update_ms"] = learner

    ray.init(
        address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING"
    )
    try:
        results["weights_put_ms"] = _median_ms(lambda: ray.put(flat_weights(model)), repeats)
        results["weights_floats"] = int(flat_weights(model).size)
        for n_workers in (1, 2):
            collector = RayCollector(
                env_factory,
                model,
                seed=0,
                n_workers=n_workers,
                envs_per_worker=envs_per_worker,
                num_cpus_per_worker=1.0,
                max_worker_restarts=0,
                rollout_timeout_s=60.0,
            )
            try:
                handle = collector.workers[0]
                results[f"round_trip_{n_workers}_ms"] = _median_ms(
                    lambda h=handle: ray.get(h.describe.remote(), timeout=60), repeats
                )
                results[f"ray_collect_1_step_{n_workers}_workers_ms"] = _median_ms(
                    lambda c=collector: c.collect(model, 1), repeats
                )
                results[f"ray_rollout_{n_workers}_workers_ms"] = _median_ms(
                    lambda c=collector: c.collect(model, N_ROLLOUT_STEPS), repeats
                )
            finally:
                collector.close()
    finally:
        ray.shutdown()
        rc.close()
    return results


def _trainer(model):
    from maze_a2c import A2C

    return A2C(_config(), model=model, collector=None)


def scaling_model(costs: dict, worker_counts=(1, 2, 4, 8, 16, 32)) -> list[dict]:
    """Modelled env steps per second for ``n_workers`` workers, each on its own core.

    One synchronous update takes ``T(W) = t_rollout + c(W) + t_learn(W * e)``: every worker's
    rollout in parallel (``t_rollout``, one worker's rollout in its own process: the ray runner's
    rollout with 1 worker minus ``c(1)``), the ray runner's overhead of a collect call with ``W``
    workers (``c(W)``: a 1-step collect call minus a worker's own 1-step collection, measured for
    1 and 2 workers and extended linearly), and the learner's update on ``W * e`` envs (measured
    for 2-16 envs, extended linearly). With prefetch the rollout and the update overlap:
    ``T(W) = max(t_rollout + c(W), t_learn(W * e))``. Throughput is ``W * e * n_rollout_steps / T(W)``.
    """
    e, n = costs["envs_per_worker"], costs["n_rollout_steps"]
    c1 = max(costs["ray_collect_1_step_1_workers_ms"] - costs["worker_1_step_ms"], 0.0)
    c2 = max(costs["ray_collect_1_step_2_workers_ms"] - costs["worker_1_step_ms"], c1)
    t_rollout = costs["ray_rollout_1_workers_ms"] - c1
    learner = {int(n_envs): ms for n_envs, ms in costs["learner_update_ms"].items()}
    slope = (learner[16] - learner[2]) / 14
    rows = []
    for w in worker_counts:
        overhead = c1 + (w - 1) * (c2 - c1)
        t_learn = learner[2] + slope * (w * e - 2)
        sync = t_rollout + overhead + t_learn
        overlapped = max(t_rollout + overhead, t_learn)
        rows.append(
            {
                "n_workers": w,
                "overhead_ms": overhead,
                "learn_ms": t_learn,
                "update_ms": sync,
                "steps_per_second": 1000 * w * e * n / sync,
                "steps_per_second_prefetch": 1000 * w * e * n / overlapped,
            }
        )
    return rows
