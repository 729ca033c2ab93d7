"""``RunContext``: train, evaluate and use a policy from plain Python.

Every component is given by a registered name (``algorithm="a2c"``, ``runner="local"``) or as an
instance; names are checked when the RunContext is built, so a typo fails at once, not ten
minutes into training. Nothing heavy (envs, networks, worker processes) is built before
:meth:`RunContext.train`.
"""

from __future__ import annotations

import contextlib
import copy
import enum
import inspect
import json
import math
import os
import random
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from maze_core import plugins
from maze_core import run_dir as run_files
from maze_core._imports import only_installed_code
from maze_core.errors import ConfigurationError, Terminated, UnknownNameError, short_repr
from maze_core.overrides import check_field
from maze_core.run_dir import CONFIG_FILE
from maze_core.training.config import AlgorithmConfig

if TYPE_CHECKING:
    from collections.abc import Callable

    from maze_core.agent import BasePolicyComposer, CriticComposerInterface
    from maze_core.runners import Runner

DEFAULT_POLICY = "probabilistic"
DEFAULT_CRITIC = "step_state"
OVERRIDE_SECTIONS = ("algorithm", "policy", "critic", "runner")


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
        overrides = _split_overrides(overrides or {})
        self.env_name = env if isinstance(env, str) else getattr(env, "__name__", type(env).__name__)
        self.env_factory = _wrapped_factory(resolve_env(env), wrappers)
        self.algorithm_name, self.algorithm = _algorithm(algorithm, overrides.pop("algorithm", {}), device)
        self.policy_name, self.policy_composer, self.policy_kwargs = _composer(
            "policy", policy, DEFAULT_POLICY, overrides.pop("policy", {})
        )
        self.critic_name, self.critic_composer, self.critic_kwargs = _composer(
            "critic", critic, DEFAULT_CRITIC, overrides.pop("critic", {})
        )
        self.runner_name, self.runner = _runner(runner, overrides.pop("runner", {}))
        self.torch_device = resolve_device(self.algorithm.device)  # an unavailable GPU fails here
        self.seed = random.SystemRandom().randrange(2**31) if seed is None else _checked_seed(seed)
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
        arguments = _checked_arguments(config, run_dir / CONFIG_FILE)
        objects = _objects(arguments)
        if objects:
            raise ConfigurationError(
                f"the run in {run_dir} was set up with Python objects ({', '.join(objects)}), which "
                f"{CONFIG_FILE} cannot rebuild; create its RunContext in Python again, with "
                f"run_dir={str(run_dir)!r} and resume=True"
            )
        if not (run_dir / run_files.CHECKPOINT_FILE).exists():
            raise ConfigurationError(f"the run in {run_dir} has not finished an epoch yet (no checkpoint.pt)")
        source = None if trust_run_dir else run_dir / CONFIG_FILE
        recorded = arguments.get("overrides") or {}
        withheld = {} if source is None else _machine_options(arguments.get("runner"), recorded, overrides)
        recorded = {key: value for key, value in recorded.items() if key not in withheld}
        arguments["overrides"] = {**recorded, **(overrides or {})}
        if device is not None:
            arguments["device"] = device
        try:
            with only_installed_code(source):
                context = cls(**arguments, run_dir=run_dir, seed=config["seed"], silent=silent, resume=True)
        except UnknownNameError as error:
            missing = _missing_plugins(config)
            if not missing:
                raise
            raise UnknownNameError(
                f"{error} The run in {run_dir} was trained with plugins that are not installed now "
                f"(its {CONFIG_FILE} records them): {', '.join(missing)}. Install them "
                f"(pip install {' '.join(missing)}) to use the run."
            ) from error
        context._untrusted_source = source
        context._withheld_options = withheld
        return context

    # --- training -------------------------------------------------------------------------------

    def train(self, n_epochs: int | None = None, target_return: float | None = None) -> None:
        """Train ``n_epochs`` more epochs (0: until early stopping or Ctrl-C); repeated calls continue.

        None means the config's ``n_epochs``; a resumed run then trains the epochs it had left.
        With ``target_return``, training stops once the mean evaluation return reaches it.
        """
        from maze_core import statistics
        from maze_core.training.progress import ConsoleProgress, Progress
        from maze_core.training.writers import make_console, setup_logging

        _check_target_return(target_return)
        console = None if self.silent else make_console()
        if self._trainer is None:
            self._build()
            self._write_config(target_return)
            if self.resume and n_epochs is None and self.algorithm.n_epochs > 0:
                n_epochs = max(self.algorithm.n_epochs - self._trainer.epoch, 0)
                if n_epochs == 0:
                    return
            if console is not None:
                console.print(self._banner(), soft_wrap=True)  # long names: never a line break inside
        writers = setup_logging(log_dir=self.run_dir, console=console or False)
        self._best_policy = self._loaded_normalization = None  # training may find a new best
        try:
            with ConsoleProgress(console) if console else Progress() as progress, _terminate_as_interrupt():
                self._trainer.progress = progress
                self._trainer.train(n_epochs, target_return=target_return)
        finally:
            self._trainer.progress = None
            for writer in writers:
                statistics.remove_writer(writer)

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
            self._build_model_from_composers(copies=TRAINING_COPIES if for_training else LOADING_COPIES)

    def _build_model_from_composers(self, copies: int) -> None:
        from maze_core.agent import TorchActorCritic

        probe = self.env_factory()
        try:
            spaces = {
                "action_spaces_dict": probe.action_spaces_dict,
                "observation_spaces_dict": probe.observation_spaces_dict,
                "agent_counts_dict": probe.agent_counts_dict,
            }
        finally:
            probe.close()
        self._observation_spaces_dict = spaces["observation_spaces_dict"]

        def composers():
            policy = self.policy_composer or _built_composer(
                "policy", self.policy_name, spaces, self.policy_kwargs
            )
            critic = self.critic_composer or _built_composer(
                "critic",
                self.critic_name,
                {key: spaces[key] for key in ("observation_spaces_dict", "agent_counts_dict")},
                self.critic_kwargs,
            )
            return policy, critic

        if self.policy_composer is None or self.critic_composer is None:
            _check_model_fits(composers, self.torch_device, copies)
        policy_composer, critic_composer = composers()
        self._model = TorchActorCritic(
            policy_composer.policy, critic_composer.critic, device=self.torch_device
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
            "policy": {"name": self.policy_name, **_plain_dict(self.policy_kwargs)},
            "critic": {"name": self.critic_name, **_plain_dict(self.critic_kwargs)},
            "runner": {"name": self.runner_name, **self.runner.settings()},
            "seed": self.seed,
            "python": sys.version.split()[0],
            "plugins": {info.distribution: info.version for info in plugins.plugins()},
            "arguments": _recorded(self._arguments),
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
                    policy.load_state_dict(best["policies"])
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


def _machine_options(runner: Any, recorded: dict[str, Any], given: dict[str, Any] | None) -> dict[str, Any]:
    """The recorded overrides of ``runner``'s machine options (its address, ...) that the user did
    not give again: a run directory does not decide where Maze connects."""
    from maze_core.errors import MazeError

    try:
        options = plugins.load("runner", runner).machine_options if isinstance(runner, str) else ()
    except MazeError:
        return {}  # an unknown runner fails with its own error when the RunContext is built
    keys = {f"runner.{option}" for option in options} - set(given or {})
    return {key: value for key, value in recorded.items() if key in keys and value is not None}


#: copies of the model's weights that training holds: the weights, their gradients, the optimizer's
#: two moments (Adam) and the best model
TRAINING_COPIES = 5
#: copies that using a trained model holds: the weights, the best policy and the state read from disk
LOADING_COPIES = 3


def _check_model_fits(build_composers, device, copies: int) -> None:
    """Refuse networks whose weights would not fit in memory ``copies`` times, measured before any
    weight exists: the composers are built once on torch's ``meta`` device, which allocates
    nothing. A network that cannot be built there is not measured (the real build reports it)."""
    import torch

    from maze_core.errors import MazeError
    from maze_core.training.rollout import available_memory

    try:
        with torch.device("meta"):
            policy, critic = build_composers()
        parameters = [*policy.policy.parameters(), *critic.critic.parameters()]
    except MazeError:
        raise
    except Exception:  # noqa: BLE001 - a network that cannot be built on meta is built for real
        return
    n_bytes = sum(p.numel() * p.element_size() for p in parameters)
    available = available_memory(device)
    if available is not None and n_bytes * copies > available:
        n_parameters = sum(p.numel() for p in parameters)
        raise ConfigurationError(
            f"the policy and critic networks have {n_parameters:,} parameters ({n_bytes / 2**30:.1f} GiB), "
            f"and {'training' if copies == TRAINING_COPIES else 'using'} them needs about "
            f"{n_bytes * copies / 2**30:.1f} GiB, but only {available / 2**30:.1f} GiB of memory are "
            f"available on {device}; make the networks smaller (policy.networks, critic.networks)"
        )


def _missing_plugins(config: dict[str, Any]) -> list[str]:
    """``package==version`` of each plugin recorded in a run's config that is not installed now."""
    recorded = config.get("plugins")
    if not isinstance(recorded, dict):
        return []
    installed = {_normalized(info.distribution) for info in plugins.plugins()}
    return [
        f"{package}=={version}" if version else str(package)
        for package, version in recorded.items()
        if _normalized(str(package)) not in installed
    ]


def _normalized(package: str) -> str:
    return package.lower().replace("_", "-").replace(".", "-")


#: the defaults of ``RunContext(algorithm=..., runner=...)``, for the CLI
DEFAULT_ALGORITHM = inspect.signature(RunContext).parameters["algorithm"].default
DEFAULT_RUNNER = inspect.signature(RunContext).parameters["runner"].default


def _checked_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ConfigurationError(f"seed={seed!r} is invalid: it must be an integer in [0, 2**32 - 1]")
    return seed


def _check_target_return(target_return: Any) -> None:
    is_number = isinstance(target_return, (int, float)) and not isinstance(target_return, bool)
    if target_return is not None and not (is_number and math.isfinite(target_return)):
        raise ConfigurationError(
            f"target_return={target_return!r} is invalid: it must be a finite number, or None for no target"
        )


@contextlib.contextmanager
def _terminate_as_interrupt():
    """While training, SIGTERM ends the run as Ctrl-C does (checkpoint kept), raising ``Terminated``.

    Only in the main thread, and only where nobody installed a SIGTERM handler of their own.
    """
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def interrupt(signum, frame):
        raise Terminated("terminated by SIGTERM")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


#: the types of the recorded arguments from_run_dir passes on
_ARGUMENT_TYPES = {
    "env": (str,),
    "algorithm": (str,),
    "policy": (str, type(None)),
    "critic": (str, type(None)),
    "runner": (str,),
    "wrappers": (list, dict, type(None)),
    "overrides": (dict,),
    "device": (str, type(None)),
}


def _checked_arguments(config: dict[str, Any], path: Path) -> dict[str, Any]:
    """The recorded RunContext arguments of ``config``, with a one-line error naming a bad field."""
    arguments = config.get("arguments")
    if not isinstance(arguments, dict):
        raise ConfigurationError(f"{path} does not record the run's arguments (an older Maze wrote it)")
    for key, value in arguments.items():
        expected = _ARGUMENT_TYPES.get(key)
        if expected is None:
            raise ConfigurationError(f"{path}: arguments.{key} is not a RunContext argument")
        if not isinstance(value, expected) and _objects(value) == []:
            names = " or ".join("null" if kind is type(None) else kind.__name__ for kind in expected)
            raise ConfigurationError(f"{path}: arguments.{key} must be {names}, got {value!r}")
    if "env" not in arguments:
        raise ConfigurationError(f"{path}: arguments.env is missing")
    try:
        _checked_seed(config.get("seed"))
        _check_target_return(config.get("target_return"))
    except ConfigurationError as error:
        raise ConfigurationError(f"{path}: {error}") from None
    return dict(arguments)


def load_run_config(run_dir: str | Path) -> dict[str, Any]:
    """The ``config.json`` of the run in ``run_dir``, with a clear error when there is none."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigurationError(f"run directory {str(run_dir)!r} does not exist")
    path = run_dir / CONFIG_FILE
    if not os.path.lexists(path):
        raise ConfigurationError(f"{str(run_dir)!r} is not a Maze run directory: it has no {CONFIG_FILE}")
    config = run_files.read_json(path)
    if not isinstance(config, dict):
        raise ConfigurationError(f"{path} does not hold a run configuration (a JSON object)")
    return config


# --- resolving the arguments ------------------------------------------------------------------------


def _split_overrides(overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"algorithm.lr": 1e-3}`` -> ``{"algorithm": {"lr": 1e-3}}``; unknown sections are errors."""
    split: dict[str, dict[str, Any]] = {}
    for path, value in overrides.items():
        section, _, key = str(path).partition(".")
        if section not in OVERRIDE_SECTIONS or not key or "." in key:
            raise ConfigurationError(
                f"override {path!r}: write it as '<section>.<field>', "
                f"with section one of {', '.join(OVERRIDE_SECTIONS)}"
            )
        split.setdefault(section, {})[key] = value
    return split


def _algorithm(algorithm, changes: dict[str, Any], device: str | None):
    if isinstance(algorithm, str):
        name, config = algorithm, plugins.load("algorithm", algorithm)()
    elif isinstance(algorithm, AlgorithmConfig):
        config = algorithm
        name = _registered_name("algorithm", type(algorithm))
    else:
        raise ConfigurationError(
            f"algorithm={algorithm!r}: give a registered algorithm name "
            f"({', '.join(plugins.names('algorithm'))}) or an AlgorithmConfig instance"
        )
    if device is not None:
        changes = {**changes, "device": device}
    for key in changes:
        check_field(f"algorithm.{key}", type(config), key)
    # evolve() builds a new config (validators run again) and leaves the user's instance untouched
    return name, attrs.evolve(config, **changes) if changes else config


def _registered_name(kind: str, cls) -> str:
    """The name ``cls`` is registered under (for run directories and the config), else its class name."""
    from maze_core.errors import MazeError

    for name in plugins.names(kind):
        try:
            if plugins.load(kind, name) is cls:
                return name
        except MazeError:  # a broken or clashing plugin's name cannot be ours
            continue
    return cls.__name__


def _composer(kind: str, value, default: str, kwargs: dict[str, Any]):
    """(name, instance or None, constructor kwargs) of a policy or critic composer."""
    from maze_core.agent import BasePolicyComposer, CriticComposerInterface

    base = BasePolicyComposer if kind == "policy" else CriticComposerInterface
    if value is None or isinstance(value, str):
        name = value or default
        composer_class = plugins.load(kind, name)  # fail now on an unknown name
        for key in kwargs:
            check_field(f"{kind}.{key}", composer_class, key)
        return name, None, kwargs
    if isinstance(value, base):
        if kwargs:
            raise ConfigurationError(
                f"overrides {sorted(f'{kind}.{k}' for k in kwargs)} cannot change a {kind} composer "
                "instance; pass the values to its constructor instead"
            )
        return _registered_name(kind, type(value)), value, {}
    raise ConfigurationError(
        f"{kind}={value!r}: give a registered {kind} name ({', '.join(plugins.names(kind))}) "
        f"or a {base.__name__} instance"
    )


def _built_composer(kind: str, name: str, spaces: dict[str, Any], kwargs: dict[str, Any]):
    """The registered composer ``name`` built for the env's spaces; a value of the wrong type in
    ``kwargs`` (an override, perhaps from a run's config.json) is a ConfigurationError naming it."""
    try:
        return plugins.load(kind, name)(**spaces, **kwargs)
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        if isinstance(error, ConfigurationError):
            raise
        given = ", ".join(f"{kind}.{key}={value!r}" for key, value in kwargs.items()) or "no overrides"
        raise ConfigurationError(
            f"the {kind} composer {name!r} cannot be built with {given}: {type(error).__name__}: {error}"
        ) from error


def _runner(runner, kwargs: dict[str, Any]):
    from maze_core.runners import Runner

    if isinstance(runner, str):
        runner_class = plugins.load("runner", runner)
        for key in kwargs:
            check_field(f"runner.{key}", runner_class, key)
        try:
            return runner, runner_class(**kwargs)
        except TypeError as error:
            raise ConfigurationError(f"runner {runner!r} options {kwargs}: {error}") from error
    if isinstance(runner, Runner):
        for key, value in kwargs.items():
            check_field(f"runner.{key}", type(runner), key)
            setattr(runner, key, value)
        return _registered_name("runner", type(runner)), runner
    raise ConfigurationError(
        f"runner={runner!r}: give a registered runner name ({', '.join(plugins.names('runner'))}) or a Runner"
    )


def _wrapped_factory(factory, wrappers):
    if not wrappers:
        return factory
    from maze_core.env.native import VectorEnvFactory

    if isinstance(factory, VectorEnvFactory):
        raise ConfigurationError(
            "wrappers= wraps single Maze envs, but env= is a VectorEnvFactory (a batch of envs): "
            "apply gymnasium vector wrappers inside the factory instead."
        )
    return _WrappedFactory(factory, [_wrapper_spec(item) for item in _wrapper_items(wrappers)])


def _wrapper_items(wrappers) -> list:
    if isinstance(wrappers, dict):
        return list(wrappers.items())
    if isinstance(wrappers, (list, tuple)):
        return list(wrappers)
    raise ConfigurationError(
        f"wrappers={wrappers!r}: give a list of wrapper classes or (class, kwargs) pairs, or a "
        "{class: kwargs} dict"
    )


def _wrapper_spec(item) -> tuple[type, dict[str, Any]]:
    """``(wrapper class, kwargs)`` of one entry of ``wrappers=``: a class or a dotted path, alone
    or paired with a dict of keyword arguments; anything else is a ConfigurationError naming it."""
    from maze_core._imports import import_object
    from maze_core.env.wrappers import Wrapper

    wrapper, kwargs = item if isinstance(item, (tuple, list)) and len(item) == 2 else (item, {})
    if isinstance(wrapper, str):
        wrapper = import_object(wrapper, "wrapper", kind=Wrapper)
    if not (isinstance(wrapper, type) and issubclass(wrapper, Wrapper)) or not isinstance(kwargs, dict):
        raise ConfigurationError(
            f"wrappers entry {short_repr(item)}: give a Wrapper subclass (or its dotted path), "
            "alone or as a (wrapper, {keyword: value}) pair"
        )
    return wrapper, dict(kwargs)


class _WrappedFactory:
    """A picklable env factory that applies wrappers (sent to worker processes by the local runner)."""

    def __init__(self, factory, wrappers):
        self.factory = factory
        self.wrappers = wrappers

    def __call__(self):
        env = self.factory()
        for wrapper, kwargs in self.wrappers:
            env = wrapper.wrap(env, **kwargs)
        return env


_OBJECT = "__object__"


def _recorded(value: Any) -> Any:
    """``value`` for config.json: plain values as they are, anything else as ``{"__object__": name}``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_recorded(item) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: _recorded(item) for key, item in value.items()}
    described = value if hasattr(value, "__qualname__") else type(value)
    return {_OBJECT: f"{described.__module__}.{described.__qualname__}"}


def _objects(recorded: Any, path: str = "") -> list[str]:
    """``path=name`` of every object :func:`_recorded` could not write as plain values."""
    if isinstance(recorded, dict):
        if set(recorded) == {_OBJECT}:
            return [f"{path}={recorded[_OBJECT]}"]
        return [
            found for key, item in recorded.items() for found in _objects(item, f"{path}.{key}".lstrip("."))
        ]
    if isinstance(recorded, list):
        return [found for index, item in enumerate(recorded) for found in _objects(item, f"{path}[{index}]")]
    return []


def _plain_dict(values: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, (bool, int, float, str, type(None))) else repr(v) for k, v in values.items()
    }


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
