"""``RunContext``: train, evaluate and use a policy from plain Python.

Every component is given by a registered name (``algorithm="a2c"``, ``runner="local"``) or as an
instance; names are checked when the RunContext is built, so a typo fails at once, not ten
minutes into training. Nothing heavy (envs, networks, worker processes) is built before
:meth:`RunContext.train`.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import inspect
import json
import math
import random
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maze_core import plugins
from maze_core import run_dir as run_files
from maze_core._imports import only_installed_code
from maze_core.errors import ConfigurationError, UnknownNameError, sigterm_as_interrupt
from maze_core.run_config import (
    load_run_config,
    rebuild_arguments,
    record_arguments,
    with_missing_plugins,
)
from maze_core.run_dir import CONFIG_FILE
from maze_core.run_setup import (
    LOADING_COPIES,
    TRAINING_COPIES,
    build_actor_critic,
    check_parts_fit,
    check_target_return,
    checked_seed,
    composer_defaults,
    resolve_algorithm,
    resolve_composer,
    resolve_runner,
    split_overrides,
    wrapped_factory,
)
from maze_core.training.config import AlgorithmConfig

if TYPE_CHECKING:
    from collections.abc import Callable

    from maze_core.agent import BasePolicyComposer, CriticComposerInterface
    from maze_core.runners import Runner


@dataclasses.dataclass(frozen=True)
class TrainingSummary:
    """Where a run stands after :meth:`RunContext.train`."""

    epochs: int  #: epochs trained so far, in all train() calls and resumed runs
    env_steps: int  #: env steps so far, likewise
    best_return: float | None  #: the mean return of the best model (None before one was selected)
    run_dir: Path


class RunMode(enum.Enum):
    """Kinds of runs (kept from the original API; RunContext runs training)."""

    TRAINING = "conf_train"
    ROLLOUT = "conf_rollout"


class RunContext:
    """One training run, set up from names or instances.

    :param env: a registered env name, a gymnasium id, or a function that creates a new env.
    :param algorithm: a registered algorithm name or an ``AlgorithmConfig``.
    :param policy: None (default networks), a registered policy composer name, or a composer.
    :param critic: None (default networks), a registered critic composer name, or a composer.
    :param runner: a registered runner name or a ``Runner``.
    :param wrappers: wrappers applied to every env the factory creates: classes, ``(class, kwargs)``
        pairs, or a ``{class: kwargs}`` dict.
    :param overrides: ``{"algorithm.lr": 1e-3, "runner.n_envs": 8, "policy.<arg>": ...}``.
    :param run_dir: where the run's files go (default ``outputs/<env>-<algorithm>-<runner>/<time>``).
        A directory holding run files is refused unless ``resume`` or ``overwrite`` is given.
    :param seed: seeds envs, torch, numpy and Python (an integer in [0, 2**32 - 1]); None draws one
        (it is saved in the config).
    :param device: overrides ``algorithm.device`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``).
    :param silent: print nothing.
    :param resume: continue the run in ``run_dir`` from its last checkpoint.
    :param overwrite: replace the Maze run in ``run_dir``; its files are removed only once the new
        run is built, when :meth:`train` starts.
    """

    def __init__(
        self,
        env: str | Callable[[], Any] | None = None,
        algorithm: str | AlgorithmConfig = "a2c",
        policy: str | BasePolicyComposer | None = None,
        critic: str | CriticComposerInterface | None = None,
        runner: str | Runner = "dev",
        wrappers: list | dict | None = None,
        overrides: dict[str, Any] | None = None,
        run_dir: str | Path | None = None,
        seed: int | None = None,
        device: str | None = None,
        silent: bool = False,
        resume: bool = False,
        overwrite: bool = False,
    ):
        from maze_core.env.names import resolve_env
        from maze_core.training.devices import resolve_device

        if env is None:
            raise ConfigurationError(
                "RunContext needs env=: a registered env name, a gymnasium id or an env factory"
            )
        # as given, for config.json: a run set up from names and plain values can be rebuilt from it
        self._arguments = {
            "env": env,
            "algorithm": algorithm,
            "policy": policy,
            "critic": critic,
            "runner": runner,
            "wrappers": wrappers,
            "overrides": dict(overrides or {}),
            "device": device,
        }
        overrides = split_overrides(overrides or {})
        self.env_name = env if isinstance(env, str) else getattr(env, "__name__", type(env).__name__)
        self.env_factory = wrapped_factory(resolve_env(env), wrappers)
        self.algorithm_name, self.algorithm = resolve_algorithm(
            algorithm, overrides.pop("algorithm", {}), device
        )
        defaults = composer_defaults(type(self.algorithm))
        policy_overrides, critic_overrides = overrides.pop("policy", {}), overrides.pop("critic", {})
        # the algorithm's composers come with its arguments for them, under the user's overrides
        if policy is None:
            policy_overrides = {**defaults.policy_kwargs, **policy_overrides}
        if critic is None:
            critic_overrides = {**defaults.critic_kwargs, **critic_overrides}
        self.policy_choice = resolve_composer("policy", policy, defaults.policy, policy_overrides)
        self.critic_choice = resolve_composer("critic", critic, defaults.critic, critic_overrides)
        check_parts_fit(self.algorithm_name, self.algorithm, self.critic_choice)
        self.runner_name, self.runner = resolve_runner(runner, overrides.pop("runner", {}))
        self.torch_device = resolve_device(self.algorithm.device)  # an unavailable GPU fails here
        self.seed = random.SystemRandom().randrange(2**31) if seed is None else checked_seed(seed)
        self.silent = silent
        self.resume = resume
        self.overwrite = overwrite
        if resume and overwrite:
            raise ConfigurationError("resume=True continues a run, overwrite=True replaces it: give one")
        if resume and (run_dir is None or not (Path(run_dir) / run_files.CHECKPOINT_FILE).exists()):
            raise ConfigurationError(
                f"resume=True needs run_dir= pointing at a run with a checkpoint.pt (got {run_dir!r})"
            )
        self._run_dir = run_files.check_run_dir(run_dir, resume=resume, overwrite=overwrite)
        self._lock: run_files.RunLock | None = None
        #: the config file this run was rebuilt from, unless trusted: it may only name installed code
        self._untrusted_source: Path | None = None
        #: machine options that file recorded and the user did not give again (not used)
        self._withheld_options: dict[str, Any] = {}
        self._trainer = None
        self._model = None
        self._best_policy = None
        self._loaded_normalization = None

    @classmethod
    def from_run_dir(
        cls,
        run_dir: str | Path,
        overrides: dict[str, Any] | None = None,
        device: str | None = None,
        silent: bool = False,
        trust_run_dir: bool = False,
    ) -> RunContext:
        """The RunContext of an earlier run, rebuilt from its ``config.json``.

        :meth:`train` continues the run from its last checkpoint; :attr:`policy`, :meth:`evaluate`
        and :meth:`compute_action` use its best model right away. Only runs set up from names and
        plain values (as ``maze train`` does) can be rebuilt.

        A run directory is untrusted input: weights are read with ``torch.load(weights_only=True)``,
        and a dotted path in ``config.json`` (a network class, an activation, a wrapper) is loaded
        only if it is a class of the expected kind from an installed package, checked before
        anything is called (see docs/run-directories.md).

        :param overrides: changes to the recorded overrides, e.g. ``{"algorithm.n_epochs": 20}``
            to train up to epoch 20.
        :param device: where the model goes (default: the run's device).
        :param silent: print nothing.
        :param trust_run_dir: load any dotted path the run names (only for your own runs: a path
            can name any code).
        """
        run_dir = Path(run_dir)
        config = load_run_config(run_dir)
        source = None if trust_run_dir else run_dir / CONFIG_FILE
        arguments, withheld = rebuild_arguments(config, run_dir, overrides, device, trusted=source is None)
        try:
            with only_installed_code(source):
                context = cls(**arguments, run_dir=run_dir, seed=config["seed"], silent=silent, resume=True)
        except UnknownNameError as error:
            raise with_missing_plugins(error, config, run_dir) from error
        context._untrusted_source = source
        context._withheld_options = withheld
        return context

    # --- training -------------------------------------------------------------------------------

    def train(self, n_epochs: int | None = None, target_return: float | None = None) -> TrainingSummary:
        """Train ``n_epochs`` more epochs (0: until early stopping or Ctrl-C); repeated calls continue.

        None means the config's ``n_epochs``; a resumed run then trains the epochs it had left.
        With ``target_return``, training stops once the mean evaluation return reaches it.
        Returns where the run stands: epochs and env steps so far, the best return, the run directory.
        """
        from maze_core import statistics
        from maze_core.training.progress import ConsoleProgress, Progress
        from maze_core.training.writers import make_console, setup_logging

        check_target_return(target_return)
        console = None if self.silent else make_console()
        if self._trainer is None:
            self._build()
            self._write_config(target_return)
            if self.resume and n_epochs is None and self.algorithm.n_epochs > 0:
                n_epochs = max(self.algorithm.n_epochs - self._trainer.epoch, 0)
                if n_epochs == 0:
                    return self._summary()
            if console is not None:
                console.print(self._banner(), soft_wrap=True)  # long names: never a line break inside
        columns = getattr(self._trainer, "console_statistics", None)
        writers = setup_logging(log_dir=self.run_dir, console=console or False, columns=columns)
        self._best_policy = self._loaded_normalization = None  # training may find a new best
        try:
            with ConsoleProgress(console) if console else Progress() as progress, sigterm_as_interrupt():
                self._trainer.progress = progress
                self._trainer.train(n_epochs, target_return=target_return)
        finally:
            self._trainer.progress = None
            for writer in writers:
                statistics.remove_writer(writer)
        return self._summary()

    def _summary(self) -> TrainingSummary:
        best = self._trainer.model_selection.best_reward
        return TrainingSummary(
            epochs=self._trainer.epoch,
            env_steps=self._trainer.env_steps,
            best_return=best if math.isfinite(best) else None,
            run_dir=self.run_dir,
        )

    def _banner(self) -> str:
        """What is trained, where and how (rich markup), printed when training starts."""
        from rich.markup import escape

        n_parameters = sum(p.numel() for p in self._model.parameters())
        n_envs = getattr(self.runner, "n_envs", None)
        runner = self.runner_name
        if n_envs:
            runner += f", {n_envs} env" + ("s" if n_envs > 1 else "")
        after = f" after epoch {self._trainer.epoch}" if self.resume else ""
        return (
            f"{'Resuming' if self.resume else 'Training'} [bold]{escape(self.env_name)}[/] with "
            f"[bold]{self.algorithm_name}[/]{after}\n"
            f"Runner {runner}; device {self.torch_device}; seed {self.seed}\n"
            f"Model: {n_parameters:,} parameters\n"
            f"Run directory: {escape(str(self.run_dir))}"
        )

    def _build(self) -> None:
        """Lock the run directory, build everything, then (and only then) replace an earlier run."""
        from maze_core.training.seeding import set_global_seed

        self._refuse_withheld_options()
        self._lock = run_files.RunLock(self.run_dir)
        try:
            # checked again under the lock: another run may have written here since construction
            run_files.check_run_dir(self.run_dir, resume=self.resume, overwrite=self.overwrite)
            set_global_seed(self.seed)
            self._build_model(for_training=True)
            trainer = self.runner.create_trainer(
                env_factory=self.env_factory,
                algorithm=self.algorithm,
                model=self._model,
                run_dir=self.run_dir,
                seed=self.seed,
            )
            if self.resume:
                run_files.restore(
                    self.run_dir / run_files.CHECKPOINT_FILE, trainer.load_state_dict, self.torch_device
                )
            elif self.overwrite:
                run_files.remove_run(self.run_dir)
            run_files.refuse_links(self.run_dir)
        except BaseException:
            self.close()
            raise
        self._trainer = trainer

    def _refuse_withheld_options(self) -> None:
        """Training would connect where only the run directory says: refuse, naming how to opt in."""
        if not self._withheld_options:
            return
        recorded = ", ".join(f"{key}={value!r}" for key, value in self._withheld_options.items())
        again = " ".join(f"--set {key}={value}" for key, value in self._withheld_options.items())
        raise ConfigurationError(
            f"{self._untrusted_source} sets {recorded}, and Maze never connects where a run directory "
            f"says: to train there, give it yourself ({again} with --resume, or "
            f"from_run_dir(overrides=...)), or trust the run with --trust-run-dir"
        )

    def _build_model(self, for_training: bool = False) -> None:
        """The actor-critic, from the composers and one probe env's spaces (once)."""
        if self._model is not None:
            return
        with only_installed_code(self._untrusted_source):
            self._model, self._observation_spaces_dict = build_actor_critic(
                self.env_factory,
                self.policy_choice,
                self.critic_choice,
                self.torch_device,
                copies=TRAINING_COPIES if for_training else LOADING_COPIES,
                algorithm=(self.algorithm_name, self.algorithm),
            )

    @property
    def run_dir(self) -> Path:
        if self._run_dir is None:
            stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S-%f")
            name = f"{_safe(self.env_name)}-{self.algorithm_name}-{self.runner_name}"
            self._run_dir = Path("outputs") / name / stamp
        return self._run_dir

    def _write_config(self, target_return: float | None) -> None:
        config = {
            "env": self.env_name,
            "algorithm": {"name": self.algorithm_name, **self.algorithm.to_dict()},
            "policy": self.policy_choice.recorded(),
            "critic": self.critic_choice.recorded(),
            "runner": {"name": self.runner_name, **self.runner.settings()},
            "seed": self.seed,
            "python": sys.version.split()[0],
            "plugins": {info.distribution: info.version for info in plugins.plugins()},
            "arguments": record_arguments(self._arguments),
            "target_return": target_return,
        }
        run_files.write_text(self.run_dir / CONFIG_FILE, json.dumps(config, indent=2) + "\n")

    # --- using the result -----------------------------------------------------------------------

    @property
    def policy(self):
        """The best policy found so far (the last one if nothing was evaluated yet).

        A resumed run (``resume=True``, :meth:`from_run_dir`) has one before :meth:`train`: the best
        model in its ``state_dict.pt``.
        """
        if self._best_policy is None:
            best = self._best_state_dict()
            policy = copy.deepcopy(self._model.policy)
            if best is not None:
                with run_files.fitting(self.run_dir / run_files.BEST_MODEL_FILE):
                    policy.load_state_dict(best)  # a q_greedy policy reads its critic
            policy.eval()
            self._best_policy = policy
        return self._best_policy

    def _best_state_dict(self) -> dict | None:
        if self._trainer is not None:
            return self._trainer.model_selection.best_state_dict
        if not self.resume:
            raise ConfigurationError(
                "RunContext.policy is available after train(), or for a run loaded with "
                "RunContext.from_run_dir()"
            )
        path = self.run_dir / run_files.BEST_MODEL_FILE
        if not path.exists():
            raise ConfigurationError(f"{path} does not exist: the run has not saved a best model yet")
        self._build_model()
        return run_files.load_torch(path, map_location=self.torch_device)

    def compute_action(self, observation, actor_id=None, deterministic: bool = False):
        """An action of the best policy for ``observation`` (which is not modified); with
        ``runner.normalize_observations`` the observation is normalized first (frozen statistics)."""
        normalization = self._observation_normalization()
        if normalization is not None:
            step_key = actor_id[0] if actor_id is not None else next(iter(self._observation_spaces_dict))
            observation = normalization.normalize_observation(observation, step_key, update=False)
        return self.policy.compute_action(observation, actor_id=actor_id, deterministic=deterministic)

    def _observation_normalization(self):
        """The observation normalization the best policy acts with (None without one): the
        statistics saved with the best weights; before there is a best model, the trainer's
        current ones; for a run saved before the statistics went with the best weights, those of
        its last checkpoint."""
        if not self.runner.normalize_observations:
            return None
        if self._loaded_normalization is None:
            from maze_core.env.normalization import Normalization

            best = self._best_state_dict()
            if best is not None and "normalization" in best:
                state = best["normalization"]
            elif self._trainer is not None:
                return self._trainer.collector.env.normalization
            else:
                checkpoint = run_files.load_torch(
                    self.run_dir / run_files.CHECKPOINT_FILE, map_location="cpu"
                )
                state = checkpoint["collector"]["normalization"]
            self._build_model()
            normalization = Normalization(self._observation_spaces_dict)
            normalization.load_state_dict(state)
            self._loaded_normalization = normalization
        return self._loaded_normalization

    def evaluate(self, n_episodes: int | None = None, deterministic: bool = True) -> dict[str, float]:
        """Evaluate the best policy on ``n_episodes`` fresh episodes; returns their statistics.

        None means the runner's ``eval_episodes``, or 8 for a run trained without evaluation.
        """
        from maze_core.env.native import native_factory
        from maze_core.env.vector import SequentialVectorEnv
        from maze_core.training.evaluator import RolloutEvaluator, summary

        n_episodes = n_episodes or self.runner.eval_episodes or 8
        n_envs = min(n_episodes, self.runner.n_eval_envs)
        vector_env_factory = native_factory(self.env_factory, auto=self.runner.native_vector_env)
        if vector_env_factory is not None:
            env = vector_env_factory(n_envs)
        else:
            env = SequentialVectorEnv([self.env_factory] * n_envs)
        normalization = self._observation_normalization()
        if normalization is not None:
            from maze_core.env.normalization import NormalizedVectorEnv

            env = NormalizedVectorEnv(env, normalization, training=False)
        try:
            stats = RolloutEvaluator(env, n_episodes=n_episodes, deterministic=deterministic).evaluate(
                self.policy, seed=self.seed + 1
            )
        finally:
            env.close()
        if not self.silent:
            from maze_core.training.writers import make_console

            make_console().print(summary("evaluation", stats))
        return stats

    def close(self) -> None:
        """Stop the run's env workers and unlock the run directory (also done at interpreter exit)."""
        self.runner.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


#: the defaults of ``RunContext(algorithm=..., runner=...)``, for the CLI
DEFAULT_ALGORITHM = inspect.signature(RunContext).parameters["algorithm"].default
DEFAULT_RUNNER = inspect.signature(RunContext).parameters["runner"].default


# --- resolving the arguments ------------------------------------------------------------------------


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
