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

import numpy as np
import torch

from maze_core.env.structured_env import ActorID
from maze_core.errors import ConfigurationError, EnvWorkerError
from maze_core.training.batches import ActorTransitions, Minibatch, Rollout  # noqa: F401  (their home before the split)


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
