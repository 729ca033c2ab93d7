"""The ray runner's rollout source: :class:`~maze_ray.worker.RolloutWorker` actors, faults handled.

Per update the learner's weights are flattened into one numpy vector and put into the object
store once; every worker fetches it, steps its envs for a whole rollout and returns numpy arrays,
which are joined along the env axis into one :class:`~maze_core.training.rollout.Rollout` on the
training device. A worker that dies, whose node leaves the cluster, or that does not answer within
``rollout_timeout_s`` is replaced and its rollout collected again; an exception raised inside a
worker (by the env, or the policy) ends the run, since running a deterministic bug again is
pointless.
"""

from __future__ import annotations

import contextlib
import copy
import time

import numpy as np
import ray
import torch

from maze_core import statistics
from maze_core.env.structured_env import ActorID
from maze_core.errors import ConfigurationError, EnvWorkerError, MazeError
from maze_core.statistics import EpisodeRecorder
from maze_core.training.evaluator import RolloutEvaluator
from maze_core.training.rollout import ActorTransitions, Rollout
from maze_ray.worker import RolloutWorker, flat_weights

#: how long closing waits for the workers to close their envs before killing them (seconds)
CLOSE_TIMEOUT_S = 5.0


class RayCollector:
    """Collects each rollout from ``n_workers`` Ray actors in parallel (the driver must already be
    connected to Ray: ``ray.init``).

    :param env_factory: creates one env; pickled once and shared by all workers.
    :param model: the learner's ``TorchActorCritic``; every worker acts with a CPU copy of it,
        loaded at every :meth:`collect` with the weights of the model given there.
    :param seed: worker ``w`` resets its envs with ``seed + w * envs_per_worker + i`` and samples
        actions with its own seeded generator; a replacement worker gets fresh seeds.
    """

    def __init__(
        self,
        env_factory,
        model,
        seed: int | None,
        *,
        n_workers: int,
        envs_per_worker: int,
        num_cpus_per_worker: float,
        max_worker_restarts: int,
        rollout_timeout_s: float,
        prefetch: bool = False,
        step_timeout_s: float | None = None,
        native_vector_env: bool = True,
    ):
        self.device = next(iter(model.parameters())).device
        self.seed = seed
        self.envs_per_worker = envs_per_worker
        self.max_worker_restarts = max_worker_restarts
        self.rollout_timeout_s = rollout_timeout_s
        self.prefetch = prefetch
        self.step_timeout_s = step_timeout_s
        self.native_vector_env = native_vector_env
        self._prefetched = None  # (n_steps, calls in flight) of the next rollout
        _check_cluster_cpus(n_workers, num_cpus_per_worker)
        try:
            self._env_factory = ray.put(env_factory)
        except Exception as exc:
            raise ConfigurationError(
                f"the env factory {env_factory!r} cannot be pickled, so it cannot be sent to the Ray "
                f"workers: {type(exc).__name__}: {exc}. Create unpicklable resources inside the factory."
            ) from exc
        self._model = ray.put(copy.deepcopy(model).to("cpu"))
        self._actor_class = ray.remote(RolloutWorker).options(
            num_cpus=num_cpus_per_worker,
            max_restarts=0,  # replaced by us, so that the lost rollout is collected again
            max_task_retries=0,
            scheduling_strategy="SPREAD",  # one worker per node first: the point of a cluster
        )
        self.workers: list = [None] * n_workers
        self._descriptions: list = [None] * n_workers
        self._starts = 0
        self.restarts = 0
        self._epoch_restarts = 0
        self._episodes = EpisodeRecorder()
        try:
            for index in range(n_workers):
                self._start(index)
            self._gather(self._call_all("describe"))  # the envs are built: factory errors show here
            probe = env_factory()  # what an off-policy trainer sizes its replay buffer by
            try:
                self.observation_spaces_dict = probe.observation_spaces_dict
                self.action_spaces_dict = probe.action_spaces_dict
            finally:
                probe.close()
            self.n_envs = n_workers * envs_per_worker
        except BaseException:
            self.close()
            raise

    # --- the collector interface ----------------------------------------------------------------

    def collect(
        self,
        model,
        n_steps: int,
        behaviour: bool = True,
        keep_reset_rows: bool = False,
        next_observations: bool = False,
    ) -> Rollout:
        """One rollout of ``n_steps`` steps on every env of every worker, acting with the current
        weights and exploration state of ``model``'s policy (the learner's; a worker's rollout
        holds the log-probs and values computed with the weights it acted with: it keeps them
        whatever ``behaviour`` says, since the learner cannot know which weights acted).
        ``keep_reset_rows`` and ``next_observations`` as for
        :meth:`~maze_core.training.rollout.VectorEnvCollector.collect`.

        With ``prefetch`` the rollout returned was started at the previous call, with the weights
        of that time (one update old), and the next one starts now, while the learner updates.
        """
        weights = ray.put(flat_weights(model))  # once per update, fetched by every worker
        calls, request = None, (n_steps, keep_reset_rows, next_observations)
        if self._prefetched is not None:
            prefetched_request, calls = self._prefetched
            self._prefetched = None
            if prefetched_request != request:
                calls = None  # a rollout of another kind: collect anew
        exploration = model.policy.exploration_state()  # e.g. DQN's epsilon, set by the learner
        results = self._gather(calls or self._call_all("collect", weights, *request, exploration))
        if self.prefetch:
            self._prefetched = (request, self._call_all("collect", weights, *request, exploration))
        for result in results:
            episodes = result["episodes"]
            for episode_return, length in zip(episodes["returns"], episodes["lengths"], strict=True):
                self._episodes.add_episode(episode_return, length)
            for name, values in episodes["metrics"].items():
                for value in values:
                    self._episodes.add_metric(name, value)
        return rollout_from_arrays(merge_rollouts([result["rollout"] for result in results]), self.device)

    def evaluate(
        self, model, n_envs: int, n_episodes: int, seed: int | None, deterministic: bool
    ) -> tuple[list[float], list[int]]:
        """Returns and lengths of ``n_episodes`` episodes on ``n_envs`` evaluation envs spread over
        the workers in contiguous blocks (env ``i`` reset with ``seed + i``, episodes spread over
        the envs as :class:`~maze_core.training.evaluator.RolloutEvaluator` spreads them)."""
        weights = ray.put(flat_weights(model))
        per_env = [(n_episodes + i) // n_envs for i in range(n_envs)][::-1]
        calls, first = {}, 0
        for index, count in enumerate(_split_evenly(n_envs, len(self.workers))):
            if count:
                env_seed = None if seed is None else seed + first
                arguments = (weights, count, sum(per_env[first : first + count]), env_seed, deterministic)
                self._call(calls, index, "evaluate", arguments)
            first += count
        returns, lengths = [], []
        for result in self._gather(calls):
            if result is not None:
                returns += result[0]
                lengths += result[1]
        return returns, lengths

    def epoch_stats(self) -> dict[str, float]:
        """Statistics of the training episodes finished since the last call, and how many workers
        were replaced meanwhile (``worker_restarts``)."""
        stats = self._episodes.reduce()
        stats["worker_restarts"] = float(self._epoch_restarts)
        self._epoch_restarts = 0
        return stats

    def close(self) -> None:
        """Let the workers close their envs (briefly), then end their processes."""
        workers = [worker for worker in self.workers if worker is not None]
        self.workers = [None] * len(self.workers)
        self._prefetched = None
        with contextlib.suppress(Exception):
            ray.wait(
                [worker.close.remote() for worker in workers],
                num_returns=len(workers),
                timeout=CLOSE_TIMEOUT_S,
            )
        for worker in workers:
            with contextlib.suppress(Exception):
                ray.kill(worker, no_restart=True)

    # --- workers and their faults ---------------------------------------------------------------

    def _start(self, index: int) -> None:
        """Start worker ``index`` (again); returns at once, the actor builds its envs meanwhile."""
        # the k-th worker started (replacements included) seeds its envs from seed + k * envs_per_worker
        seed = None if self.seed is None else self.seed + self._starts * self.envs_per_worker
        self._starts += 1
        self.workers[index] = self._actor_class.remote(
            self._env_factory,
            self._model,
            self.envs_per_worker,
            seed,
            self.step_timeout_s,
            self.native_vector_env,
        )
        self._descriptions[index] = self.workers[index].describe.remote()

    def describe(self, index: int) -> str:
        """``ray worker 1 (pid 4242 on host)``, as far as known."""
        with contextlib.suppress(Exception):
            where = ray.get(self._descriptions[index], timeout=0.5)
            return f"ray worker {index} (pid {where['pid']} on {where['host']})"
        return f"ray worker {index}"

    def _call_all(self, method: str, *args) -> dict:
        """Call ``method`` on every worker; returns the calls in flight (see :meth:`_gather`)."""
        calls = {}
        for index in range(len(self.workers)):
            self._call(calls, index, method, args)
        return calls

    def _call(self, calls: dict, index: int, method: str, args: tuple) -> None:
        reference = getattr(self.workers[index], method).remote(*args)
        calls[reference] = (index, time.monotonic(), method, args)

    def _gather(self, calls: dict) -> list:
        """The results of ``calls`` (one per worker) in worker order. A worker that dies or does not
        answer within ``rollout_timeout_s`` is replaced and called again; an exception raised in a
        worker is raised here, naming it."""
        results: list = [None] * len(self.workers)
        while calls:
            oldest = min(started for _, started, _, _ in calls.values())
            wait_s = max(0.0, oldest + self.rollout_timeout_s - time.monotonic())
            ready, _ = ray.wait(list(calls), num_returns=1, timeout=wait_s)
            if not ready:
                for reference, (index, started, method, args) in list(calls.items()):
                    if time.monotonic() - started >= self.rollout_timeout_s:
                        del calls[reference]
                        self._replace(
                            index,
                            f"did not answer within rollout_timeout_s={self.rollout_timeout_s:g} s (an env "
                            "that hangs, or a new worker Ray could not place for lack of free CPUs)",
                        )
                        self._call(calls, index, method, args)
                continue
            index, _, method, args = calls.pop(ready[0])
            try:
                results[index] = ray.get(ready[0], timeout=self.rollout_timeout_s)
            except ray.exceptions.RayTaskError as error:
                raise self._worker_error(index, method, error) from None
            except ray.exceptions.RayError as error:  # the actor died, or its node left
                self._replace(index, _death_reason(error))
                self._call(calls, index, method, args)
        return results

    def _replace(self, index: int, reason: str) -> None:
        """Replace a dead or unresponsive worker, or end the run after ``max_worker_restarts``."""
        description = self.describe(index)
        with contextlib.suppress(Exception):
            ray.kill(self.workers[index], no_restart=True)  # a hung worker must not linger
        self.workers[index] = None
        self.restarts += 1
        self._epoch_restarts += 1
        if self.restarts > self.max_worker_restarts:
            raise EnvWorkerError(
                f"{description} {reason}, and {self.max_worker_restarts} workers were replaced "
                "already (runner.max_worker_restarts): stopping. The best model and the last "
                "checkpoint are kept; check the cluster, then resume with `maze train --resume RUN_DIR`."
            )
        statistics.log_message(
            f"{description} {reason}: started a new worker (restart {self.restarts} of at most "
            f"{self.max_worker_restarts}) and collecting its rollout again."
        )
        self._start(index)

    def _worker_error(self, index: int, method: str, error) -> EnvWorkerError:
        """The exception raised inside a worker, naming the worker, with the remote traceback."""
        cause = error.cause if isinstance(getattr(error, "cause", None), BaseException) else error
        detail = str(cause) if isinstance(cause, MazeError) else f"{type(cause).__name__}: {cause}"
        remote_traceback = getattr(cause, "env_traceback", None) or str(error)
        description = self.describe(index)
        failure = EnvWorkerError(
            f"{description} failed in {method}: {detail}\n\n"
            f"Traceback in {description}:\n{remote_traceback.rstrip()}"
        )
        failure.worker_index = index
        failure.env_traceback = remote_traceback
        return failure


class WorkerEvaluator(RolloutEvaluator):
    """A :class:`~maze_core.training.evaluator.RolloutEvaluator` whose episodes run on the rollout
    workers of a :class:`RayCollector`, each on evaluation envs of its own, with the weights of
    ``model`` (the learner's) at the time of the evaluation."""

    def __init__(
        self, collector: RayCollector, model, n_envs: int, n_episodes: int, deterministic: bool = True
    ):
        super().__init__(None, n_episodes=n_episodes, deterministic=deterministic)
        self.collector, self.model, self.n_envs = collector, model, n_envs

    def episodes(self, policy, seed: int | None = None) -> tuple[list[float], list[int]]:
        return self.collector.evaluate(self.model, self.n_envs, self.n_episodes, seed, self.deterministic)

    def __repr__(self) -> str:
        return (
            f"WorkerEvaluator(n_envs={self.n_envs}, n_episodes={self.n_episodes}, "
            f"deterministic={self.deterministic})"
        )


def _split_evenly(n: int, parts: int) -> list[int]:
    """``n`` as ``parts`` counts differing by at most one (larger first)."""
    size, extra = divmod(n, parts)
    return [size + (index < extra) for index in range(parts)]


def _death_reason(error) -> str:
    """``died (...)`` with the first line of Ray's explanation."""
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"died ({type(error).__name__}: {first_line})"


def _check_cluster_cpus(n_workers: int, num_cpus_per_worker: float) -> None:
    """Fail now rather than wait forever for workers that can never be scheduled."""
    total = ray.cluster_resources().get("CPU", 0.0)
    needed = n_workers * num_cpus_per_worker
    if needed > total:
        raise ConfigurationError(
            f"the ray runner needs {n_workers} workers x num_cpus_per_worker={num_cpus_per_worker:g} = "
            f"{needed:g} CPUs, but the Ray cluster has {total:g}: lower runner.n_workers or "
            "runner.num_cpus_per_worker (fractions such as 0.5 are allowed), or add nodes."
        )


# --- rollouts from several workers --------------------------------------------------------------


def merge_rollouts(parts: list[dict]) -> dict:
    """Join the :func:`~maze_ray.worker.rollout_to_arrays` rollouts of several workers along the
    env axis (worker 0's envs first)."""
    first = parts[0]
    if len(parts) == 1:
        return first
    for index, part in enumerate(parts[1:], start=1):
        if part["actor_ids"] != first["actor_ids"]:
            raise MazeError(
                f"ray workers 0 and {index} stepped different actors in the same rollout; their rollouts "
                "cannot be joined. The ray runner needs envs that ask for the same actors in the same "
                "order in every worker (as a vector env does); use runner.n_workers=1 for this env."
            )
    if any("valid" in part for part in parts):  # a worker whose rows were all transitions has none
        for part in parts:
            part.setdefault("valid", np.ones_like(part["terminated"]))
    return {
        "dropped_transitions": sum(part["dropped_transitions"] for part in parts),
        "actors": {
            actor: {
                name: value if name == "rows" else _joined([p["actors"][actor][name] for p in parts])
                for name, value in transitions.items()
            }
            for actor, transitions in first["actors"].items()
        },
        "actor_ids": first["actor_ids"],
        **{
            name: _joined([p[name] for p in parts])
            for name in first
            if name not in ("actors", "actor_ids", "dropped_transitions")
        },
    }


def _joined(values: list):
    """Arrays (or dicts of arrays) ``(T, N_worker, ...)`` joined into ``(T, sum N_worker, ...)``."""
    if isinstance(values[0], dict):
        return {key: np.concatenate([value[key] for value in values], axis=1) for key in values[0]}
    return np.concatenate(values, axis=1)


def rollout_from_arrays(arrays: dict, device: torch.device) -> Rollout:
    """The :class:`Rollout` on ``device`` of a :func:`~maze_ray.worker.rollout_to_arrays` dict."""

    def tensor(value):
        if isinstance(value, dict):
            return {key: tensor(item) for key, item in value.items()}
        # arrays straight from the object store are read-only, which torch does not wrap
        return torch.from_numpy(value if value.flags.writeable else value.copy()).to(device)

    return Rollout(
        actors={
            ActorID(*actor): ActorTransitions(**{name: tensor(value) for name, value in transitions.items()})
            for actor, transitions in arrays["actors"].items()
        },
        actor_ids=[ActorID(*actor) for actor in arrays["actor_ids"]],
        dropped_transitions=arrays["dropped_transitions"],
        **{name: None for name in ("log_probs", "values", "next_values") if name not in arrays},
        **{
            name: tensor(value)
            for name, value in arrays.items()
            if name not in ("actors", "actor_ids", "dropped_transitions")
        },
    )
