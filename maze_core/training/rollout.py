"""Rollouts: what acting in the envs produced, in the form algorithms learn from.

A rollout is ``T`` transitions (sub-steps) on each of ``N`` envs. Transitions are grouped by the
actor that took them (step key and agent), because each actor has its own observation and action
spaces and possibly its own network; in a plain single-agent env there is one group and every
tensor is simply ``(T, N, ...)``.

Besides observations, actions and rewards a rollout keeps what the behaviour policy and critic
computed while acting: the log-prob of each taken action (``log_probs``), the sample behind the
action of heads whose distribution needs it to re-evaluate that log-prob exactly (``latents``: a
squashed Gaussian's pre-squash sample, a Gaussian's unclipped one on a bounded Box), the critic's
value of each observation (``values``) and of the state after each transition (``next_values``,
the bootstrap). Off-policy corrections (PPO's ratio) and bootstrapping therefore never depend on
weights that changed after acting, which matters once rollouts come from remote workers.

:class:`Rollout` is a plain dataclass of tensors. :class:`VectorEnvCollector` produces one from a
vector env in this process; a distributed runner's worker can run the same collector on its own
envs with its copy of the model and ship the (CPU) rollout back, where :meth:`Rollout.to` moves it
to the training device. Any other source fills the fields as documented on :class:`Rollout`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field, fields

import numpy as np
import torch

from maze_core.env.structured_env import ActorID
from maze_core.errors import ConfigurationError, EnvWorkerError


@dataclass
class ActorTransitions:
    """The transitions of one actor inside a rollout (or a :class:`Minibatch`)."""

    #: (T_actor,) positions of these transitions along the first axis of the rollout's ``(T, N)``
    #: tensors (the time index), or of a minibatch's ``(B,)`` tensors
    rows: torch.Tensor
    observations: dict[str, torch.Tensor]  # {key: (T_actor, N, ...)}, a minibatch: (B_actor, ...)
    actions: dict[str, torch.Tensor]  # as sent to the env
    #: the samples behind the actions of heads whose distribution has one: a squashed Gaussian's
    #: pre-squash sample, a Gaussian's unclipped sample on a bounded Box
    latents: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class Rollout:
    """One rollout. Every tensor named ``(T, N)`` is indexed ``[time, env]``.

    ``terminated``/``truncated`` flag the transitions that ended an episode (the env was then reset:
    the next transition on that env starts a new episode). ``env_step_ends`` is false for the
    sub-steps inside a multi-step env step (env time did not advance), true otherwise.
    ``next_values[t, n]`` is the critic's value of the state after transition ``t`` on env ``n``:
    the next transition's observation, the observation after the rollout for ``t = T - 1``, or the
    final observation of a truncated episode (valued by the critic of the actor it belongs to);
    0 where the episode terminated.
    """

    actors: dict[ActorID, ActorTransitions]
    actor_ids: list[ActorID]  # actor of each time index
    rewards: torch.Tensor  # (T, N) float32
    terminated: torch.Tensor  # (T, N) bool
    truncated: torch.Tensor  # (T, N) bool
    env_step_ends: torch.Tensor  # (T, N) bool
    #: (T, N) behaviour policy's log-prob of the taken action (all heads); None if the rollout was
    #: collected with ``behaviour=False`` (an algorithm that re-evaluates the rollout itself)
    log_probs: torch.Tensor | None
    #: (T, N) critic's value of each observation, while acting; None with ``behaviour=False``
    #: (then the algorithm values the observations itself, see next_values_from)
    values: torch.Tensor | None
    #: (T, N) critic's value of the state after each transition; without ``values``, set only
    #: where ``bootstraps`` is (0 elsewhere)
    next_values: torch.Tensor
    #: (T, N) bool: where ``next_values`` values an observation that is not in the rollout (the
    #: one after it, a truncated episode's final observation) rather than the next transition's
    bootstraps: torch.Tensor
    #: (T, N) bool, False where a next-step autoreset env only reset itself (not a transition of
    #: any episode: not trained on); None when every transition is valid
    valid: torch.Tensor | None = None

    def next_values_from(self, values: torch.Tensor) -> torch.Tensor:
        """``next_values`` with the rollout's own observations valued by ``values`` ``(T, N)`` (an
        algorithm's own critic pass, e.g. A2C's) instead of the values from acting: ``values[t + 1]``
        where the next transition follows, the bootstrap values elsewhere, 0 after a termination."""
        following = torch.cat((values[1:], values[-1:]))  # the last row always bootstraps
        return torch.where(self.bootstraps, self.next_values, following).masked_fill_(self.terminated, 0.0)

    def valid_only(self, *tensors: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """The ``(T, N)`` tensors as they are, or only their valid transitions (flattened): one
        tensor for one tensor given, a tuple for several."""
        if self.valid is not None:
            index = self.valid.reshape(-1).nonzero().squeeze(1)  # integer indexing: cheaper than a mask
            tensors = tuple(tensor.reshape(-1).index_select(0, index) for tensor in tensors)
        return tensors[0] if len(tensors) == 1 else tensors

    @property
    def n_transitions(self) -> int:
        """The transitions of some episode: ``T * N`` less the reset-only rows."""
        return self.rewards.numel() if self.valid is None else int(self.valid.sum())

    @property
    def n_steps(self) -> int:
        return self.rewards.shape[0]

    @property
    def n_envs(self) -> int:
        return self.rewards.shape[1]

    @property
    def batch_shape(self) -> torch.Size:
        """``(T, N)``: the shape of one value per transition."""
        return self.rewards.shape

    def to(self, device: torch.device | str) -> Rollout:
        """This rollout with every tensor on ``device`` (itself if they are already there)."""
        device = torch.device(device)
        if self.rewards.device == device:
            return self
        move = lambda tensors: {key: value.to(device) for key, value in tensors.items()}  # noqa: E731
        actors = {
            actor_id: ActorTransitions(
                t.rows.to(device), move(t.observations), move(t.actions), move(t.latents)
            )
            for actor_id, t in self.actors.items()
        }
        per_transition = {  # the (T, N) fields; those an algorithm did not ask for are None
            f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("actors", "actor_ids")
        }
        per_transition = {
            name: None if value is None else value.to(device) for name, value in per_transition.items()
        }
        return Rollout(actors=actors, actor_ids=self.actor_ids, **per_transition)

    def minibatches(
        self, n_minibatches: int, generator: torch.Generator | None = None, **tensors: torch.Tensor
    ) -> Iterator[Minibatch]:
        """The rollout's ``T * N`` transitions (its valid ones), shuffled and split into
        ``n_minibatches`` of (nearly) equal size; fewer when fewer transitions are valid (a
        native env's reset-only rows are left out), none when none is.

        ``tensors`` are further ``(T, N)`` values to split alike (e.g. ``advantages=...``); a
        minibatch hands them out by name (``batch["advantages"]``). The shuffle draws from
        ``generator``, or from torch's global RNG (seeded by the run and kept in checkpoints).
        Works the same for one actor and for multi-step or multi-agent rollouts: each minibatch
        groups its transitions by actor, like the rollout.
        """
        n_steps, n_envs = self.batch_shape
        total = n_steps * n_envs
        if not 0 < n_minibatches <= total:
            raise ConfigurationError(
                f"n_minibatches={n_minibatches} must be between 1 and the rollout's {total} transitions "
                "(n_rollout_steps * n_envs): lower it or collect longer rollouts"
            )
        device = self.rewards.device
        if self.values is None or self.log_probs is None:
            raise ValueError(
                "this rollout was collected with behaviour=False; minibatches hand out the log-probs "
                "and values from acting, so collect it with behaviour=True (the trainer's needs_behaviour)"
            )
        per_transition = {"log_probs": self.log_probs, "values": self.values, **tensors}
        flat = {name: value.reshape(total) for name, value in per_transition.items()}
        # for each time index: which actor took it, and its row among that actor's transitions
        owner = torch.empty(n_steps, dtype=torch.long, device=device)
        local_row = torch.empty(n_steps, dtype=torch.long, device=device)
        for index, transitions in enumerate(self.actors.values()):
            owner[transitions.rows] = index
            local_row[transitions.rows] = torch.arange(len(transitions.rows), device=device)
        order = torch.randperm(total, generator=generator).to(device)
        if self.valid is not None:  # next-step autoreset transitions are not trained on
            order = order[self.valid.reshape(total)[order]]
        for indices in torch.tensor_split(order, min(n_minibatches, len(order))):
            time, env = indices // n_envs, indices % n_envs
            actors = {}
            for index, (actor_id, transitions) in enumerate(self.actors.items()):
                positions = torch.nonzero(owner[time] == index).squeeze(1)
                if len(positions):
                    where = (local_row[time[positions]], env[positions])
                    actors[actor_id] = ActorTransitions(
                        positions,
                        *(
                            {key: value[where] for key, value in part.items()}
                            for part in _per_key(transitions)
                        ),
                    )
            values = {name: value[indices] for name, value in flat.items()}
            yield Minibatch(actors, values.pop("log_probs"), values.pop("values"), values)


def _per_key(transitions: ActorTransitions) -> tuple[dict[str, torch.Tensor], ...]:
    return transitions.observations, transitions.actions, transitions.latents


@dataclass
class Minibatch:
    """``B`` transitions drawn from a rollout by :meth:`Rollout.minibatches`, grouped by actor;
    ``rows`` of each actor index the minibatch's ``(B,)`` tensors."""

    actors: dict[ActorID, ActorTransitions]
    log_probs: torch.Tensor  # (B,) the behaviour policy's log-probs
    values: torch.Tensor  # (B,) the critic's values while acting
    tensors: dict[str, torch.Tensor]  # (B,) the extra tensors given to ``minibatches``

    @property
    def batch_shape(self) -> torch.Size:
        return self.log_probs.shape

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.tensors[name]


class _ActorBuffer:
    """Preallocated numpy storage for one actor's observations, actions and latents."""

    def __init__(self, observation_space, action_space, capacity: int, n_envs: int):
        self.capacity, self.n_envs = capacity, n_envs
        self.observations = {
            key: np.zeros((capacity, n_envs, *space.shape), dtype=_dtype(space))
            for key, space in observation_space.spaces.items()
        }
        self.actions = {
            key: np.zeros((capacity, n_envs, *space.shape), dtype=_dtype(space))
            for key, space in action_space.spaces.items()
        }
        self.latents: dict[str, np.ndarray] = {}  # allocated on the first latent of a head
        # torch views sharing memory with the numpy buffers: handed to the policy without copies;
        # one view per row, made here once (indexing a tensor costs microseconds, on every step)
        self.observation_views = {key: torch.from_numpy(buf) for key, buf in self.observations.items()}
        self._row_views = [
            {key: view[index] for key, view in self.observation_views.items()} for index in range(capacity)
        ]
        self.rows: list[int] = []

    def store_observation(self, observation: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        index = len(self.rows)
        for key, buf in self.observations.items():
            try:
                buf[index] = observation[key]
            except (KeyError, ValueError, TypeError) as error:
                raise _observation_error(key, buf.shape[1:], observation, error) from None
        return dict(self._row_views[index])  # a new dict: the policy may do what it likes with it

    def store_action(self, action: dict[str, np.ndarray], latents: dict[str, np.ndarray]) -> None:
        index = len(self.rows)
        for key, buf in self.actions.items():
            buf[index] = action[key]
        for key, latent in latents.items():
            if key not in self.latents:
                self.latents[key] = np.zeros((self.capacity, *latent.shape), dtype=latent.dtype)
            self.latents[key][index] = latent

    def to_transitions(self, device: torch.device) -> ActorTransitions:
        count = len(self.rows)
        to_device = lambda arrays: {k: torch.from_numpy(v[:count]).to(device) for k, v in arrays.items()}  # noqa: E731
        return ActorTransitions(
            rows=torch.as_tensor(self.rows, dtype=torch.long, device=device),
            observations=to_device(self.observations),
            actions=to_device(self.actions),
            latents=to_device(self.latents),
        )


def _observation_error(key: str, shape: tuple, observation, error: Exception) -> EnvWorkerError:
    if not isinstance(observation, dict) or key not in observation:
        got = f"keys {sorted(observation)}" if isinstance(observation, dict) else type(observation).__name__
        detail = f"has no observation {key!r} (it returned {got})"
    else:
        detail = f"returned observation {key!r} of shape {np.shape(observation[key])[1:]}"
    return EnvWorkerError(
        f"a training env {detail}, but its observation space says shape {shape[1:]}: make the env's "
        "observations match its observation space"
    )


def _check_memory(
    n_steps: int, n_envs: int, observation_space, action_space, model, actor, behaviour: bool
) -> None:
    """Refuse, before allocating, a rollout that would not fit in the available memory: its buffers
    and (on the CPU) the activations of one pass of the networks over all its samples: with
    ``behaviour`` the collector's critic pass (the update may then take minibatches, as PPO's
    does), without it the update's pass of policy and critic with gradients (A2C)."""
    available = available_memory()
    if available is None:
        return
    per_env_step = sum(
        np.dtype(_dtype(space)).itemsize * int(np.prod(space.shape, dtype=np.int64))
        for space in (*observation_space.spaces.values(), *action_space.spaces.values())
    )
    # the numpy buffers and their copy on the training device, rewards and flags, a row view per step
    buffers = n_steps * (2 * n_envs * (per_env_step + 7) + 400)
    activations = 0
    if buffers <= available and _device(model).type == "cpu":
        per_sample = _activation_bytes(model, observation_space, actor, policy=not behaviour)
        activations = n_steps * n_envs * per_sample
    if buffers + activations > available:
        raise ConfigurationError(
            f"a rollout of algorithm.n_rollout_steps={n_steps} on runner.n_envs={n_envs} envs needs about "
            f"{(buffers + activations) / 2**30:.1f} GiB of memory ({buffers / 2**30:.1f} GiB of buffers, "
            f"{activations / 2**30:.1f} GiB for the networks' activations over its {n_steps * n_envs:,} "
            f"samples), but only {available / 2**30:.1f} GiB are available; lower "
            "algorithm.n_rollout_steps or runner.n_envs"
        )


def _activation_bytes(model, observation_space, actor, policy: bool) -> int:
    """Bytes per sample that autograd keeps while the critic (and the ``policy``) evaluate a batch
    with gradients (what an update holds until its backward pass, the bulk of its memory; a pass
    without gradients needs about as much for its largest layers), measured on two probe batches
    of zero observations: their difference leaves out what does not grow with the batch (the
    weights). A model that cannot be probed counts 0 (training reports it)."""

    def saved_bytes(n: int) -> int:
        storages = {}

        def pack(tensor):
            storage = tensor.untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
            return tensor

        observation = {
            key: torch.from_numpy(np.zeros((n, *space.shape), dtype=_dtype(space))).to(_device(model))
            for key, space in observation_space.spaces.items()
        }
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            if policy:
                model.policy.distribution(observation, actor_id=actor).entropy()
            model.critic.predict_value(observation, actor_id=actor)
        return sum(storages.values())

    try:
        with torch.random.fork_rng(devices=[]):  # the probe leaves the run's random numbers alone
            return max(saved_bytes(16) - saved_bytes(8), 0) // 8
    except Exception:  # noqa: BLE001 - a model the probe cannot run is left to the real update
        return 0


def _device(model) -> torch.device:
    return next(iter(model.parameters())).device


def available_memory(device: torch.device | str = "cpu") -> int | None:
    """Bytes of memory available to new allocations on ``device`` (a GPU's free memory; for the
    CPU, Linux's MemAvailable), or None if unknown."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type != "cpu":
        return None
    try:
        with open("/proc/meminfo") as meminfo:  # noqa: PTH123
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _dtype(space) -> np.dtype:
    dtype = np.dtype(space.dtype) if space.dtype is not None else np.dtype(np.float32)
    return np.dtype(np.float32) if dtype == np.float64 else dtype


class VectorEnvCollector:
    """Collects rollouts from a vector env in this process; episodes continue across rollouts.

    This is the rollout source of the dev and local runners. A distributed runner provides the same
    interface (``collect``, ``epoch_stats``, ``close``), e.g. with workers that each run a
    ``VectorEnvCollector`` on their envs with a copy of the model and ship the rollouts back.

    Per step the collector copies the observation into a numpy buffer, samples an action (with its
    log-prob) on a zero-copy torch view of it, and steps the vector env; moving to the training
    device and the critic's values happen once per rollout, with the same weights that acted.
    """

    def __init__(self, env, device: torch.device | str = "cpu", seed: int | None = None):
        self.env = env
        self.device = torch.device(device)
        self.seed = seed
        counts = env.agent_counts_dict
        self.single_actor = len(counts) == 1 and next(iter(counts.values())) == 1
        self._buffers: dict[ActorID, _ActorBuffer] = {}
        self._capacity = 0
        self._observation = None
        # next-step autoreset (native vector envs): the step after an episode end only resets the env
        self.next_step_autoreset = getattr(env, "autoreset_mode", "same_step") == "next_step"

    def collect(self, model, n_steps: int, behaviour: bool = True) -> Rollout:
        """A rollout of ``n_steps`` steps on every env, acting with ``model.policy`` and valued by
        ``model.critic`` (a :class:`~maze_core.agent.TorchActorCritic`).

        ``behaviour=False`` skips what only an algorithm that reuses the acting-time outputs needs:
        the behaviour log-probs and the critic's pass over the rollout's own observations (the
        rollout's ``log_probs`` and ``values`` are None; only the observations that follow the
        rollout are valued). For an algorithm whose update evaluates the rollout anyway (A2C)."""
        env, n = self.env, self.env.n_envs
        if n_steps > self._capacity:  # checked before the first reset, which takes time with many envs
            actor = ActorID(*env.actor_id())
            _check_memory(
                n_steps,
                n,
                env.observation_spaces_dict[actor.step_key],
                env.action_spaces_dict[actor.step_key],
                model,
                actor,
                behaviour,
            )
            self._buffers.clear()
            self._capacity = n_steps
        if self._observation is None:
            self._observation, _ = env.reset(seed=self.seed)
        for buffer in self._buffers.values():
            buffer.rows.clear()
        rewards = np.zeros((n_steps, n), dtype=np.float32)
        terminated = np.zeros((n_steps, n), dtype=bool)
        truncated = np.zeros((n_steps, n), dtype=bool)
        env_step_ends = np.ones((n_steps, n), dtype=bool)
        log_probs = np.zeros((n_steps, n), dtype=np.float32) if behaviour else None
        valid = np.ones((n_steps, n), dtype=bool) if self.next_step_autoreset else None
        actor_ids: list[ActorID] = []
        final_observations: list[tuple[int, int, ActorID, dict[str, np.ndarray]]] = []
        observation = self._observation
        actor = ActorID(*env.actor_id())
        policy = model.policy
        with torch.inference_mode():
            for t in range(n_steps):
                buffer = self._buffer_for(actor)
                policy_input = buffer.store_observation(observation)
                action, latents, log_prob = policy.sample_action(
                    policy_input, actor_id=actor, log_prob=behaviour
                )
                if behaviour:
                    log_probs[t] = log_prob
                buffer.store_action(action, latents)
                buffer.rows.append(t)
                actor_ids.append(actor)
                time_before = None if self.single_actor else env.get_env_time()
                observation, rewards[t], terminated[t], truncated[t], infos = env.step(action)
                if not self.single_actor:
                    actor = ActorID(*env.actor_id())
                    env_step_ends[t] = (env.get_env_time() != time_before) | terminated[t] | truncated[t]
                if valid is not None:
                    valid[t] = ~env.reset_steps()
                elif truncated[t].any():
                    for i in np.flatnonzero(truncated[t] & ~terminated[t]):
                        info = infos[i]
                        final_actor = actor_ids[-1]
                        if not self.single_actor:  # a truncation inside an env step bootstraps
                            final_actor = ActorID(*info["final_actor_id"])  # from the next sub-step
                            env_step_ends[t, i] = info["final_completed_env_step"]
                        final_observations.append((t, int(i), final_actor, info["final_observation"]))
        self._observation = observation
        actors = {
            actor_id: buf.to_transitions(self.device) for actor_id, buf in self._buffers.items() if buf.rows
        }
        terminated_t = torch.from_numpy(terminated).to(self.device)
        values, next_values, bootstraps = _critic_values(
            model.critic, actors, terminated_t, observation, actor, final_observations, behaviour, self.device
        )
        return Rollout(
            actors=actors,
            actor_ids=actor_ids,
            rewards=torch.from_numpy(rewards).to(self.device),
            terminated=terminated_t,
            truncated=torch.from_numpy(truncated).to(self.device),
            env_step_ends=torch.from_numpy(env_step_ends).to(self.device),
            log_probs=None if log_probs is None else torch.from_numpy(log_probs).to(self.device),
            values=values,
            next_values=next_values,
            bootstraps=bootstraps,
            valid=None if valid is None else torch.from_numpy(valid).to(self.device),
        )

    def _buffer_for(self, actor: ActorID) -> _ActorBuffer:
        buffer = self._buffers.get(actor)
        if buffer is None:
            env = self.env
            buffer = _ActorBuffer(
                env.observation_spaces_dict[actor.step_key],
                env.action_spaces_dict[actor.step_key],
                self._capacity,
                env.n_envs,
            )
            self._buffers[actor] = buffer
        return buffer

    def state_dict(self) -> dict:
        """What a checkpoint needs from the envs: the normalization statistics, if any."""
        normalization = getattr(self.env, "normalization", None)
        return {} if normalization is None else {"normalization": normalization.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if "normalization" in state:
            self.env.normalization.load_state_dict(state["normalization"])

    def epoch_stats(self) -> dict[str, float]:
        """Statistics of the training episodes finished since the last call."""
        return self.env.write_epoch_stats()

    def close(self) -> None:
        self.env.close()


@torch.no_grad()  # not inference mode: the values take part in losses as constants
def _critic_values(
    critic, actors, terminated, next_observation, next_actor, final_observations, all_values, device
):
    """``(values, next_values, bootstraps)`` of a rollout (see :class:`Rollout`): one critic pass per
    actor over its observations (skipped without ``all_values``: values None), then the values of
    the observations that follow the rollout or end a truncated episode."""
    values = torch.zeros(terminated.shape, device=device) if all_values else None
    next_values = torch.zeros(terminated.shape, device=device)
    if values is not None:
        for actor_id, transitions in actors.items():
            values[transitions.rows] = critic.predict_value(
                transitions.observations, actor_id=actor_id
            ).float()
        next_values[:-1] = values[1:]
    bootstraps = torch.zeros(terminated.shape, dtype=torch.bool, device=device)
    bootstraps[-1] = True
    as_tensors = lambda obs: {k: torch.as_tensor(np.asarray(v), device=device) for k, v in obs.items()}  # noqa: E731
    next_values[-1] = critic.predict_value(as_tensors(next_observation), actor_id=next_actor).float()
    for t, env_index, actor_id, observation in final_observations:
        next_values[t, env_index] = critic.predict_value(as_tensors(observation), actor_id=actor_id).float()
        bootstraps[t, env_index] = True
    return values, next_values.masked_fill_(terminated, 0.0), bootstraps
