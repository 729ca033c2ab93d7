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
from maze_core.presets import find_preset, preset_hint, recorded_preset, with_preset
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
    resolve_algorithm,
    resolve_model,
    resolve_runner,
    split_overrides,
    wrapped_factory,
)
from maze_core.training.config import AlgorithmConfig

if TYPE_CHECKING:
    from collections.abc import Callable

    from maze_core.agent import BasePolicyComposer, CriticComposerInterface
    from maze_core.runners import Runner
    from maze_core.training.epochs import Budget


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
    :param overrides: ``{"algorithm.lr": 1e-3, "runner.n_envs": 8, "policy.<arg>": ...}``;
        ``"model.hidden_units": [64, 64]`` and ``"model.activation": "relu"`` size the default
        networks of policy and critic (``policy.hidden_units``, ``critic.hidden_units``: one of them).
    :param preset: the name of tuned settings the algorithm ships for this env (e.g. ``"zoo"``,
        see docs/presets.md); ``overrides`` go over them.
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
        preset: str | None = None,
    ):
        from maze_core.env.names import resolve_env
        from maze_core.training.devices import resolve_device

        if env is None:
            raise ConfigurationError(
                "RunContext needs env=: a registered env name, a gymnasium id or an env factory"
            )
        self.preset = find_preset(preset, algorithm, env)
        overrides = with_preset(self.preset, overrides)
        # as given, for config.json: a run set up from names and plain values can be rebuilt from it
        # (a preset's settings as overrides, so that it is rebuilt with the settings it was trained with)
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
        self.policy_choice, self.critic_choice = resolve_model(
            policy, critic, type(self.algorithm), overrides
        )
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
        self._recorded_config: dict[str, Any] = {}  # what config.json records, once train() wrote it
        self._model = None
        self._env_id: str | None = None  # the gymnasium id of the env the factory makes, once built
        self._best_policy = None
        self._loaded_normalization = None
        self._memory = None  # a recurrent policy's hidden state between compute_action calls

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
        context.preset = recorded_preset(config)
        return context

    # --- training -------------------------------------------------------------------------------

    def train(
        self,
        n_epochs: int | None = None,
        target_return: float | None = None,
        n_env_steps: int | None = None,
        callbacks: list | None = None,
    ) -> TrainingSummary:
        """Train ``n_epochs`` more epochs or ``n_env_steps`` more env steps (0: until early stopping
        or Ctrl-C); repeated calls continue.

        With neither, the run trains up to its planned length: the config's ``n_epochs`` or
        ``n_env_steps``, else the algorithm's ``default_env_steps`` (a resumed run: what it had
        left). A budget in env steps ends with the first iteration that reaches it, so the last
        epoch may be shorter. With ``target_return``, training stops once the mean evaluation return
        reaches it. ``callbacks``: :class:`~maze_core.training.callbacks.Callback` instances, or
        names of trackers plugins register (``"wandb"``, ``"mlflow"``), run inside training.
        Returns where the run stands: epochs and env steps so far, the best return, the run directory.
        """
        from maze_core import statistics
        from maze_core.training.callbacks import RunInfo, resolve_callbacks
        from maze_core.training.epochs import check_length
        from maze_core.training.progress import ConsoleProgress, Progress
        from maze_core.training.writers import make_console, setup_logging

        check_target_return(target_return)
        check_length(n_epochs, n_env_steps)
        callbacks = resolve_callbacks(callbacks)
        console = None if self.silent else make_console()
        first_call = self._trainer is None
        if first_call:
            self._build()
        trainer = self._trainer
        budget = trainer.budget(n_epochs, n_env_steps)
        given = n_epochs is not None or n_env_steps is not None
        if first_call:
            self._write_config(target_return, budget if given else None)
        if budget.reached(trainer.epoch, trainer.env_steps):
            if console is not None:
                epochs = f"{trainer.epoch} epoch{'s' if trainer.epoch != 1 else ''}"
                console.print(
                    f"Nothing to train: the run has used its budget ({epochs}, {trainer.env_steps:,} env "
                    "steps).\nGive a number of epochs or env steps to train more."
                )
            return self._summary()
        if console is not None and first_call:
            budget_text = budget.describe(trainer.epoch, trainer.env_steps)
            default = not given and self.algorithm.n_env_steps is None and not self.algorithm.n_epochs
            if default and not trainer.env_steps:
                budget_text += f" ({self.algorithm_name}'s default)"
            console.print(self._banner(budget_text), soft_wrap=True)  # long names: never a line break inside
        headline = getattr(trainer, "headline_statistics", None)
        columns = headline or getattr(trainer, "console_statistics", None)  # its earlier name
        writers = setup_logging(log_dir=self.run_dir, console=console or False, columns=columns)
        self._best_policy = self._loaded_normalization = None  # training may find a new best
        self._memory = None  # the state of another policy's
        run = RunInfo(self.run_dir, self._recorded_config, trainer.epoch, trainer.env_steps)
        error = None
        try:
            with ConsoleProgress(console) if console else Progress() as progress, sigterm_as_interrupt():
                trainer.progress, trainer.callbacks = progress, callbacks
                for callback in callbacks:
                    callback.on_train_start(run)
                trainer.train(n_epochs, target_return=target_return, n_env_steps=n_env_steps)
        except BaseException as exception:
            error = exception
            raise
        finally:
            trainer.progress, trainer.callbacks = None, []
            for writer in writers:
                statistics.remove_writer(writer)
            for callback in callbacks:
                callback.on_train_end(error)
        return self._summary()

    def _summary(self) -> TrainingSummary:
        best = self._trainer.model_selection.best_reward
        return TrainingSummary(
            epochs=self._trainer.epoch,
            env_steps=self._trainer.env_steps,
            best_return=best if math.isfinite(best) else None,
            run_dir=self.run_dir,
        )

    def _banner(self, budget: str) -> str:
        """What is trained, where, how and for how long (rich markup), printed when training starts."""
        from rich.markup import escape

        n_parameters = sum(p.numel() for p in self._model.parameters())
        n_envs = getattr(self.runner, "n_envs", None)
        runner = self.runner_name
        if n_envs:
            runner += f", {n_envs} env" + ("s" if n_envs > 1 else "")
        after = f" after epoch {self._trainer.epoch}" if self.resume else ""
        env = f"[bold]{escape(self.env_name)}[/]"
        if self._env_id and self._env_id != self.env_name:  # an env factory: say which env it makes
            env = f"[bold]{escape(self._env_id)}[/] (from {escape(self.env_name)})"
        return (
            f"{'Resuming' if self.resume else 'Training'} {env} with "
            f"[bold]{self.algorithm_name}[/]{after}\n"
            f"Runner {runner}; device {self.torch_device}; seed {self.seed}\n"
            f"Model: {n_parameters:,} parameters\n"
            f"Budget: {budget}\n"
            f"{self._settings_line()}"
            f"Run directory: {escape(str(self.run_dir))}"
        )

    def _settings_line(self) -> str:
        """The preset's settings (a resumed run's: as its config.json records them), or, for a new
        run without one, which presets the env has."""
        from rich.markup import escape

        if self.preset is not None:
            return escape(self.preset.describe()) + "\n"
        hint = None if self.resume else preset_hint(self.algorithm, self._arguments["env"])
        return escape(hint) + "\n" if hint else ""

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
            self.runner.close()
            self._lock.release(remove_created=True)  # a run that never started leaves no directory
            self._lock = None
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
            self._model, self._observation_spaces_dict, self._env_id = build_actor_critic(
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

    def _write_config(self, target_return: float | None, planned: Budget | None) -> None:
        """config.json; ``planned``: the length train() was given, recorded as the config's, so that
        a resumed run trains up to it."""
        config = {
            "env": self.env_name,
            "algorithm": {"name": self.algorithm_name, **self.algorithm.to_dict()},
            "policy": self.policy_choice.recorded(),
            "critic": self.critic_choice.recorded(),
            "preset": self.preset.recorded() if self.preset else None,
            "runner": {"name": self.runner_name, **self.runner.settings()},
            "seed": self.seed,
            "python": sys.version.split()[0],
            "plugins": {info.distribution: info.version for info in plugins.plugins()},
            "arguments": record_arguments(self._arguments),
            "target_return": target_return,
        }
        if planned is not None:
            length = {"n_env_steps": None, **planned.as_config()}
            config["algorithm"].update(length)
            overrides = config["arguments"]["overrides"]
            for key, value in length.items():
                if value is None:  # the default
                    overrides.pop(f"algorithm.{key}", None)
                else:
                    overrides[f"algorithm.{key}"] = value
        self._recorded_config = config
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
        ``runner.normalize_observations`` the observation is normalized first (frozen statistics).

        For a gymnasium env, the env's own observation (one, or a batch) gets the env's own action,
        what ``env.step`` takes; Maze's dict form, ``{"observation": obs}``, gets Maze's
        ``{"action": array}``, as for a MazeEnv (docs/training.md, "Acting").
        """
        from collections.abc import Mapping

        conversion = self._gym_conversion()
        as_gym = conversion is not None and conversion.is_own_observation(observation)
        if as_gym:
            observation = conversion.policy_observation(observation)
        elif not isinstance(observation, Mapping):
            raise ConfigurationError(
                f"compute_action takes an observation dict {{key: array}} for this run's env (a Maze "
                f"env), got {type(observation).__name__}"
            )
        normalization = self._observation_normalization()
        if normalization is not None:
            step_key = actor_id[0] if actor_id is not None else next(iter(self._observation_spaces_dict))
            observation = normalization.normalize_observation(observation, step_key, update=False)
        policy = self.policy
        if getattr(policy, "is_recurrent", False):  # remembers across calls, until reset_memory()
            memory = self._memory = self._memory or _new_memory()
            action = policy.compute_action(observation, actor_id, deterministic, memory=memory)
        else:
            action = policy.compute_action(observation, actor_id=actor_id, deterministic=deterministic)
        return conversion.gym_action(action) if as_gym else action

    def reset_memory(self, where=None) -> None:
        """Forget what a recurrent policy remembers from earlier :meth:`compute_action` calls: call
        it when an episode starts (for all envs, or, with a batch of observations, ``where`` the
        envs whose episode ended: a bool array such as ``terminated | truncated``). Nothing to do
        for a feed-forward policy. See docs/models.md, "Recurrent policies"."""
        if self._memory is not None:
            self._memory.reset(where)

    def _gym_conversion(self):
        """How this run's env converts gymnasium values (None for a Maze env), from one probe env."""
        if "_conversion" not in vars(self):
            from maze_core.env.gym_env import gym_conversion

            with only_installed_code(self._untrusted_source):
                self._conversion = gym_conversion(self.env_factory)
        return self._conversion

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

    def evaluate(
        self, n_episodes: int | None = None, deterministic: bool = True, video_dir: str | Path | None = None
    ) -> dict[str, float]:
        """Evaluate the best policy on ``n_episodes`` fresh episodes; returns their statistics.

        None means the runner's ``eval_episodes``, or 8 for a run trained without evaluation. As
        :meth:`train` does, it sets torch's CPU threads to ``runner.torch_threads`` (1 by default).
        With ``video_dir``, the episodes run one after another in one env and each is recorded to
        ``video_dir/eval-episode-<i>.mp4`` (a gymnasium env that renders ``rgb_array``; needs
        ``maze-core[video]``; see docs/export.md).
        """
        from maze_core.env.native import native_factory
        from maze_core.env.vector import SequentialVectorEnv
        from maze_core.training.evaluator import RolloutEvaluator, summary
        from maze_core.training.seeding import configure_torch_threads

        configure_torch_threads(self.runner.torch_threads)  # a small model's matmuls: fastest on one
        n_episodes = n_episodes or self.runner.eval_episodes or 8
        n_envs = min(n_episodes, self.runner.n_eval_envs)
        vector_env_factory = native_factory(self.env_factory, auto=self.runner.native_vector_env)
        if video_dir is not None:
            from maze_core.video import recording_factory

            env = SequentialVectorEnv([recording_factory(self.env_factory, video_dir, n_episodes)])
        elif vector_env_factory is not None:
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

    def export(self, path: str | Path | None = None, format: str = "onnx") -> Path:
        """Write the best policy, acting as ``compute_action(..., deterministic=True)`` does, to one
        ONNX (``format="onnx"``) or TorchScript (``"torchscript"``) file, with its observation
        normalization, action masking and action post-processing; returns the file's path
        (default ``run_dir/policy.onnx`` or ``policy.pt``). See docs/export.md."""
        from maze_core.export import default_path, export_policy

        path = default_path(self.run_dir, format) if path is None else Path(path)
        policy = self.policy  # builds the model; a run without a best model fails here
        observation_spaces = self._observation_spaces_dict
        step_key = next(iter(observation_spaces))
        export_policy(
            policy,
            observation_spaces[step_key],
            self._observation_normalization(),
            step_key,
            path,
            format=format,
            gym_conversion=self._gym_conversion(),
            description={"env": self.env_name, "algorithm": self.algorithm_name},
        )
        return path

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


def _new_memory():
    from maze_core.agent.memory import RecurrentMemory

    return RecurrentMemory()
