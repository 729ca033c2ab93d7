"""A study: trials over a search space, sampled by Optuna, run here, in worker processes or as Ray
tasks, and recorded in a storage on disk, so that an interrupted study continues and several
processes can share one.

This process asks Optuna for each trial's parameters and tells it each outcome; the trials run
:func:`maze_tune.trial.run_trial`, which reports every epoch to the study and may be pruned. At most
``jobs`` trials run at once; the study ends when it holds ``trials`` finished (complete or pruned)
trials, counting those of earlier and of concurrent ``tune`` calls.
"""

from __future__ import annotations

import fcntl
import functools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from maze_core.errors import ConfigurationError
from maze_tune import results
from maze_tune import space as spaces
from maze_tune.executors import executor
from maze_tune.trial import COMPLETE, FAILED, PRUNED, one_line

STORAGE_FILE = "study.db"
STUDY_NAME = "maze"
SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "halving", "none")
#: how long a process waits for the SQLite file another one writes (Optuna's own default is 5 s)
SQLITE_TIMEOUT_S = 60


def tune(
    env: str,
    params: Mapping[str, Any],
    *,
    algorithm: str = "a2c",
    policy: str | None = None,
    critic: str | None = None,
    runner: str = "dev",
    overrides: Mapping[str, Any] | None = None,
    preset: str | None = None,
    trials: int = 20,
    seeds: int = 2,
    seed: int = 0,
    jobs: int = 1,
    ray: str | None = None,
    study_dir: str | Path | None = None,
    storage: str | None = None,
    sampler: str = "tpe",
    pruner: str = "median",
    sampler_seed: int | None = None,
    silent: bool = False,
) -> results.TuneResult:
    """Search ``params`` for the settings with the best evaluation return (``maze tune``).

    :param env: a registered env name or gymnasium id.
    :param params: the search space, ``{"algorithm.lr": "loguniform:1e-4:1e-2", ...}``: each
        field as ``--set`` names it, with ``loguniform:LOW:HIGH``, ``uniform:LOW:HIGH``,
        ``int:LOW:HIGH`` or ``categorical:A,B,...`` (or an optuna distribution).
    :param algorithm, policy, critic, runner, overrides, preset: every trial's runs, as for
        :class:`~maze_core.run_context.RunContext`; a trial's parameters go over ``overrides``.
    :param trials: finished (complete or pruned) trials the study should hold; trials of earlier
        or concurrent calls on the same study count.
    :param seeds: runs per trial, seeded ``seed``, ``seed + 1``, ... in every trial; a trial's
        value is the mean of its runs' best evaluation returns.
    :param jobs: trials at once: worker processes on this machine, or Ray tasks with ``ray``.
    :param ray: run the trials as Ray tasks on the cluster at this address (``"auto"``: the one
        this machine joined; ``"local"``: a private instance); a connected driver is used as it is.
    :param study_dir: where the storage, the trials' runs and the results go (default
        ``outputs/tune/<env>-<algorithm>``). Tuning again into it continues its study.
    :param storage: an Optuna storage URL instead of the SQLite file in ``study_dir``, e.g. a
        database every node of a Ray cluster reaches.
    :param sampler: ``tpe`` (default) or ``random``.
    :param pruner: ``median`` (default), ``halving`` (successive halving) or ``none``.
    :param sampler_seed: seeds the sampler (a reproducible sequence of parameters; leave it
        unset when processes share a study, or they sample alike).
    :param silent: print nothing.
    """
    import optuna

    _check_options(trials=trials, seeds=seeds, seed=seed, jobs=jobs, sampler=sampler, pruner=pruner)
    names = {"algorithm": algorithm, "policy": policy, "critic": critic, "runner": runner}
    settings, space = _checked_settings(
        env, params, names, overrides, preset, list(range(seed, seed + seeds))
    )
    study_dir = Path(study_dir if study_dir is not None else _default_study_dir(env, algorithm)).absolute()
    study_dir.mkdir(parents=True, exist_ok=True)
    storage = storage or f"sqlite:///{study_dir / STORAGE_FILE}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=STUDY_NAME,
        storage=open_storage(storage),
        sampler=_make_sampler(sampler, sampler_seed),
        pruner=make_pruner(pruner),
        direction="maximize",
        load_if_exists=True,
    )
    _check_same_study(study, settings, study_dir)
    spec = {
        **settings,
        "storage": storage,
        "study_name": STUDY_NAME,
        "pruner": pruner,
        "study_dir": str(study_dir),
    }
    out = None if silent else results.console()
    with executor(jobs, ray) as pool:
        _optimize(study, space, spec, trials, jobs, pool, out)
    return results.collect(study, spec, study_dir, out)


def make_pruner(name: str):
    """The pruner named ``name``: trials are judged on each epoch's evaluation return."""
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner()
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.NopPruner()


def open_storage(url: str):
    """The Optuna storage at ``url``; an SQLite file waits for another process's writes.

    Opened once per process and file (opening checks the schema, which takes a while), again
    when the file is replaced."""
    path = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
    if path is None:
        return _open_storage(url, None)
    try:
        lock = open(f"{path}.lock", "a")  # noqa: SIM115  (held while the storage opens)
    except OSError as error:
        raise ConfigurationError(f"cannot open the study's storage {url!r}: {error.strerror}") from None
    with lock:  # two processes creating the tables of one new file at once collide: one at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        status = path.stat() if path.exists() else None
        return _open_storage(url, status and (status.st_dev, status.st_ino))


@functools.lru_cache(maxsize=8)
def _open_storage(url: str, identity: tuple[int, int] | None):
    import optuna

    engine = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}} if url.startswith("sqlite") else None
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine)
    except Exception as error:  # SQLAlchemy's errors, a missing database driver, a bad URL
        raise ConfigurationError(f"cannot open the study's storage {url!r}: {one_line(error)}") from None


# --- checking what a study is given -------------------------------------------------------------


def _check_options(*, sampler: str, pruner: str, **counts: int) -> None:
    for name, value in counts.items():
        minimum = 0 if name == "seed" else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigurationError(f"{name}={value!r} is invalid: it must be an integer >= {minimum}")
    for name, value, choices in (("sampler", sampler, SAMPLERS), ("pruner", pruner, PRUNERS)):
        if value not in choices:
            raise ConfigurationError(f"{name}={value!r} is unknown: choose one of {', '.join(choices)}")


def _checked_settings(
    env, params, names: dict[str, str | None], overrides, preset, seeds: list[int]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The settings every trial shares (plain data, as workers get them), checked before anything
    starts, and the search space."""
    from maze_core.run_config import record_arguments

    if not isinstance(env, str):
        raise ConfigurationError(
            f"env={env!r}: tuning needs the env's name (its trials run in other processes)"
        )
    space = spaces.search_space(params, spaces.field_names(names))
    overrides = dict(overrides or {})
    if record_arguments(overrides) != overrides:
        raise ConfigurationError("overrides: tuning takes plain values only (numbers, text, lists, dicts)")
    both = sorted(set(space) & set(overrides))
    if both:
        raise ConfigurationError(
            f"{both[0]} is both set and tuned: give it once, as a fixed value or as a parameter"
        )
    settings = {
        "env": env,
        "names": names,
        "overrides": overrides,
        "preset": preset,
        "seeds": seeds,
        "space": spaces.describe(space),
    }
    _check_runs(settings, space)
    return settings, space


def _check_runs(settings: dict[str, Any], space: Mapping[str, Any]) -> None:
    """Build a trial's run (nothing heavy: no env, no network) with each parameter at its bounds, so
    that a value the field refuses, or a run without evaluation, fails now and not in a trial."""
    from maze_core.run_context import RunContext

    names = spaces.field_names(settings["names"])
    for field, distribution in space.items():
        for value in spaces.edge_values(distribution):
            try:
                context = RunContext(
                    env=settings["env"],
                    **settings["names"],
                    overrides={**settings["overrides"], **spaces.typed_params({field: value}, names)},
                    preset=settings["preset"],
                    seed=settings["seeds"][0],
                    silent=True,
                )
            except ConfigurationError as error:
                raise ConfigurationError(f"parameter {field}={value}: {error}") from None
    if getattr(context.runner, "eval_episodes", 1) == 0 and context.algorithm.rollout_evaluator is None:
        raise ConfigurationError(
            "the trials' runs are not evaluated (runner.eval_episodes=0), so there is no evaluation "
            "return to tune for: set runner.eval_episodes to 1 or more"
        )


def _check_same_study(study, settings: dict[str, Any], study_dir: Path) -> None:
    """Record what the study tunes, or refuse to continue it with other settings."""
    recorded = json.loads(json.dumps(settings))
    existing = study.user_attrs.get("maze")
    if existing is None:
        study.set_user_attr("maze", recorded)
        return
    changed = [key for key in recorded if existing.get(key) != recorded[key]]
    if changed:
        raise ConfigurationError(
            f"the study in {study_dir} tunes other settings (its {', '.join(changed)} differ): give the "
            "options it was started with to continue it, or another study directory for a new study"
        )


def _default_study_dir(env: str, algorithm: str) -> Path:
    return Path("outputs") / "tune" / re.sub(r"[^\w.-]+", "_", f"{env}-{algorithm}")


def _make_sampler(name: str, seed: int | None):
    import optuna

    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # with trials running in parallel, TPE assumes the worst for the ones still running
    # (constant liar) rather than sampling next to them
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


# --- running trials -----------------------------------------------------------------------------


def _optimize(study, space, spec: dict[str, Any], n_trials: int, jobs: int, pool, out) -> None:
    """Keep up to ``jobs`` trials running until the study holds ``n_trials`` finished ones (its
    running trials, also another process's, count as on their way)."""
    from optuna.trial import TrialState

    names = spaces.field_names(spec["names"])
    if out is not None and _finished_or_running(study) >= n_trials:
        out.print(f"The study holds {n_trials} or more trials already: give more --trials to add some.")
    running: dict[int, Any] = {}  # trial number -> optuna Trial, of this process
    try:
        while True:
            while len(running) < jobs and _finished_or_running(study) < n_trials:
                trial = study.ask(space)
                running[trial.number] = trial
                overrides = spaces.typed_params(trial.params, names)
                # the trial's id, which a worker needs to report to it (Optuna's Trial(study, id))
                pool.submit(trial.number, spec, trial._trial_id, trial.number, overrides)
            if not running:
                return
            number, outcome = pool.next_done()
            trial = running.pop(number)
            if isinstance(outcome, BaseException):
                outcome = {"state": FAILED, "reason": one_line(outcome)}
            _tell(study, trial, outcome)
            if out is not None:
                out.print(results.progress_line(study, number, trial.params, outcome, n_trials))
    except KeyboardInterrupt:
        pool.stop()
        for trial in running.values():
            trial.set_user_attr("reason", "interrupted")
            study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        raise


def _finished_or_running(study) -> int:
    from optuna.trial import TrialState

    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    return len(study.get_trials(deepcopy=False, states=states))


def _tell(study, trial, outcome: dict[str, Any]) -> None:
    from optuna.trial import TrialState

    for key in ("returns", "reason", "node"):
        if outcome.get(key) is not None:
            trial.set_user_attr(key, outcome[key])
    if outcome["state"] == COMPLETE:
        study.tell(trial, outcome["value"])
    else:
        study.tell(trial, state=TrialState.PRUNED if outcome["state"] == PRUNED else TrialState.FAIL)
