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

from functools import partial

import numpy as np
import torch

from maze_core.agent.memory import RecurrentMemory
from maze_core.distributions.masks import ActionMaskError, ResetStepMasks
from maze_core.env.structured_env import ActorID
from maze_core.errors import ConfigurationError
from maze_core.training.batches import ActorTransitions, Minibatch, Rollout  # noqa: F401  (their home before the split)
from maze_core.training.memory import available_memory, check_rollout_memory  # noqa: F401  (available_memory: its home before)
from maze_core.training.rollout_buffers import ActorBuffer, StepRecords
from maze_core.training.sequences import recurrent_critic_values


class VectorEnvCollector:
    """Collects rollouts from a vector env in this process; episodes continue across rollouts.

    This is the rollout source of the dev and local runners. A distributed runner provides the same
    interface (``collect``, ``epoch_stats``, ``close``), e.g. with workers that each run a
    ``VectorEnvCollector`` on their envs with a copy of the model and ship the rollouts back.

    Per step the collector copies the observation into a numpy buffer, samples an action (with its
    log-prob) on a zero-copy torch view of it, and steps the vector env; moving to the training
    device and the critic's values happen once per rollout, with the same weights that acted.

    On a next-step autoreset env (a native vector env) the step after an episode's end only resets
    that env: no transition of any episode. Such steps never reach a rollout unless the algorithm
    asks for them (``keep_reset_rows``): the collector steps until every env has ``n_steps``
    transitions and hands out each env's first ``n_steps``. An env that got ahead (fewer episode
    ends) leaves its surplus out: counted as env steps (``dropped_transitions``), not trained on
    (docs/environments.md says why not carried over).
    """

    def __init__(self, env, device: torch.device | str = "cpu", seed: int | None = None):
        self.env = env
        self.device = torch.device(device)
        self.seed = seed
        counts = env.agent_counts_dict
        self.single_actor = len(counts) == 1 and next(iter(counts.values())) == 1
        self._buffers: dict[ActorID, ActorBuffer] = {}
        self._steps = StepRecords(0, env.n_envs)
        self._checked_steps = 0  # the longest rollout whose memory need was checked
        self._keep_next_observations = False
        self._observation = None
        # a recurrent model's: the policy's memory, the critic's states carried into the next
        # rollout, the envs whose episode starts at their next step, and the rollout's start states
        self._memory: RecurrentMemory | None = None
        self._critic_states: dict = {}
        self._starting: np.ndarray | None = None
        self._recurrent_states: tuple = (None, None)
        # next-step autoreset (native vector envs): the step after an episode end only resets the env
        self.next_step_autoreset = getattr(env, "autoreset_mode", "same_step") == "next_step"
        if self.next_step_autoreset and not self.single_actor:
            raise ConfigurationError("next-step autoreset is supported for single-actor envs only")
        self._reset_masks = ResetStepMasks(env) if self.next_step_autoreset else None

    def collect(
        self,
        model,
        n_steps: int,
        behaviour: bool = True,
        keep_reset_rows: bool = False,
        next_observations: bool = False,
    ) -> Rollout:
        """A rollout of ``n_steps`` transitions on every env, acting with ``model.policy`` and
        valued by ``model.critic`` (a :class:`~maze_core.agent.TorchActorCritic`).

        ``keep_reset_rows``: on a next-step env, take ``n_steps`` raw steps and mark their
        reset-only rows in ``rollout.valid`` instead of leaving them out (for an algorithm that
        leaves them out of its losses itself; no env step is then dropped).

        ``behaviour=False`` skips what only an algorithm that reuses the acting-time outputs needs:
        the behaviour log-probs and the critic's pass over the rollout's own observations (the
        rollout's ``log_probs`` and ``values`` are None; only the observations that follow the
        rollout are valued). For an algorithm whose update evaluates the rollout anyway (A2C).

        ``next_observations``: keep the observation after each transition (the next one, the one
        after the rollout, or a truncated episode's final one) in each actor's
        ``next_observations`` instead of having the critic value it (``values`` and
        ``next_values`` are None): what a replay buffer stores. Single-actor envs only."""
        env, n = self.env, self.env.n_envs
        if next_observations and not self.single_actor:
            raise ConfigurationError(
                "off-policy algorithms support envs with one actor (one step key, one agent) so far; "
                "this env has several: use an on-policy algorithm (a2c, ppo)"
            )
        if n_steps > self._checked_steps:  # checked before the first reset, which takes time with many envs
            actor = ActorID(*env.actor_id())
            check_rollout_memory(
                n_steps,
                n,
                env.observation_spaces_dict[actor.step_key],
                env.action_spaces_dict[actor.step_key],
                model,
                actor,
                behaviour,
            )
            self._checked_steps = n_steps
            self._grow(n_steps)
        if self._observation is None:
            self._observation, _ = env.reset(seed=self.seed)
        steps, t = self._steps, 0
        actor_ids: list[ActorID] = []
        for buffer in self._buffers.values():
            buffer.rows.clear()
        per_env = np.zeros(n, dtype=np.int64)  # transitions stepped so far on each env
        compact = self.next_step_autoreset and not keep_reset_rows
        final_observations: list[tuple[int, int, ActorID, dict[str, np.ndarray]]] = []
        observation = self._observation
        actor = ActorID(*env.actor_id())
        policy = model.policy
        memory = self._recurrent_start(model, compact or next_observations)
        # bound once, so that the feed-forward loop stays as it was
        sample_action = policy.sample_action
        if memory is not None:
            sample_action = partial(sample_action, memory=memory)
        with torch.inference_mode():
            while t < n_steps or (compact and (per_env < n_steps).any()):
                if t == len(steps.rewards):  # many episode ends: more raw steps than transitions
                    self._grow(2 * t)
                    steps = self._steps
                if memory is not None:  # its state was reset since the env's previous step
                    steps.episode_starts[t] = self._starting
                buffer = self._buffer_for(actor)
                policy_input = buffer.store_observation(observation)
                if self._reset_masks is not None:
                    self._reset_masks.lift(policy_input)
                try:
                    action, latents, log_prob = sample_action(
                        policy_input, actor_id=actor, log_prob=behaviour
                    )
                except ActionMaskError as error:  # name the env and the step
                    raise ActionMaskError(
                        f"training env {error.sample}, rollout step {t}: {error}", error.head, error.sample
                    ) from None
                if behaviour:
                    steps.log_probs[t] = log_prob
                buffer.store_action(action, latents)
                buffer.rows.append(t)
                actor_ids.append(actor)
                time_before = None if self.single_actor else env.get_env_time()
                observation, steps.rewards[t], steps.terminated[t], steps.truncated[t], infos = env.step(
                    action
                )
                terminated, truncated = steps.terminated[t], steps.truncated[t]
                if memory is not None:  # the next step of an ended episode's env starts afresh
                    if self.next_step_autoreset:
                        self._starting = env.reset_steps().copy()
                    else:
                        self._starting = terminated | truncated
                    memory.reset(self._starting)
                if self._reset_masks is not None:
                    self._reset_masks.record(terminated, truncated)
                if not self.single_actor:
                    actor = ActorID(*env.actor_id())
                    steps.env_step_ends[t] = (env.get_env_time() != time_before) | terminated | truncated
                if self.next_step_autoreset:  # a truncated episode's final observation is the next one
                    np.logical_not(env.reset_steps(), out=steps.transition[t])
                else:
                    steps.transition[t] = True
                    # the final observations that bootstrap, and with next_observations all of them
                    ended = truncated | terminated if next_observations else truncated & ~terminated
                    for i in np.flatnonzero(ended):
                        info = infos[i]
                        final_actor = actor_ids[-1]
                        if not self.single_actor:  # a truncation inside an env step bootstraps
                            final_actor = ActorID(*info["final_actor_id"])  # from the next sub-step
                            steps.env_step_ends[t, i] = info["final_completed_env_step"]
                        final_observations.append((t, int(i), final_actor, info["final_observation"]))
                per_env += steps.transition[t]
                t += 1
        self._observation = observation
        self._keep_next_observations = next_observations
        if compact and t > n_steps:
            return self._compacted_rollout(model, n_steps, t, actor, behaviour)
        return self._rollout(model, n_steps, actor_ids, final_observations, actor, behaviour)

    def _recurrent_start(self, model, compact: bool):
        """The policy's memory for this rollout (None for a feed-forward model), and the states the
        rollout starts from, kept for training."""
        recurrent = [getattr(part, "is_recurrent", False) for part in (model.policy, model.critic)]
        if not any(recurrent):
            return None
        if compact:
            raise ConfigurationError(
                "recurrent models train on-policy on whole sequences: an off-policy algorithm, or one "
                "that does not handle a native env's reset-only rows (handles_reset_rows), cannot use them"
            )
        if self._memory is None or self._starting is None:  # a fresh start: the envs were just reset
            self._memory, self._critic_states = RecurrentMemory(), {}
            self._starting = np.ones(self.env.n_envs, dtype=bool)
        self._recurrent_states = (
            self._memory.snapshot() if recurrent[0] else None,
            dict(self._critic_states) if recurrent[1] else None,
        )
        return self._memory

    def _rollout(self, model, n_steps, actor_ids, final_observations, next_actor, behaviour) -> Rollout:
        """The rollout of ``n_steps`` raw steps (a next-step env's reset-only steps marked)."""
        steps = self._steps
        actors = {
            actor_id: buf.to_transitions(self.device) for actor_id, buf in self._buffers.items() if buf.rows
        }
        bootstraps = np.zeros((n_steps, self.env.n_envs), dtype=bool)
        bootstraps[-1] = True
        n_envs = np.arange(self.env.n_envs)
        bootstrap_observations = [
            (next_actor, (np.full(len(n_envs), n_steps - 1), n_envs), self._observation)
        ]
        for t, env_index, actor_id, observation in final_observations:
            bootstraps[t, env_index] = not steps.terminated[t, env_index]
            batch = {key: np.asarray(value)[None] for key, value in observation.items()}
            bootstrap_observations.append((actor_id, ([t], [env_index]), batch))
        records = {name: array[:n_steps].copy() for name, array in steps.arrays().items()}
        transition = records["transition"]
        valid = None if transition.all() else torch.from_numpy(transition).to(self.device)
        rollout = self._assemble(
            model, actors, actor_ids, records, bootstraps, bootstrap_observations, behaviour
        )
        rollout.valid = valid
        return rollout

    def _compacted_rollout(self, model, n_steps, n_raw, actor, behaviour) -> Rollout:
        """The first ``n_steps`` transitions of each env among ``n_raw`` raw steps (single actor;
        reset-only steps and the surplus of envs ahead left out)."""
        steps, buffer, n = self._steps, self._buffers[actor], self.env.n_envs
        transitions = steps.transition[:n_raw]
        selected = transitions & (np.cumsum(transitions, axis=0) <= n_steps)
        rows = np.nonzero(selected.T)[1].reshape(n, n_steps).T  # (T, N): the raw step of each transition
        envs = np.broadcast_to(np.arange(n), rows.shape)
        gather = lambda arrays: {key: array[rows, envs] for key, array in arrays.items()}  # noqa: E731
        records = gather(steps.arrays())
        # where the next raw step is not the env's next transition (an episode ended, or the rollout
        # does), the observation after the transition is that step's, or the env's current one
        bootstraps = np.ones(rows.shape, dtype=bool)
        bootstraps[:-1] = (rows[1:] != rows[:-1] + 1) & ~records["terminated"][:-1]
        # the observations to value; with next_observations also those ending terminated episodes
        if self._keep_next_observations:
            time, env_index = np.nonzero(bootstraps | records["terminated"])
        else:
            time, env_index = np.nonzero(bootstraps & ~records["terminated"])
        after = rows[time, env_index] + 1
        inside = after < n_raw
        next_observations = {}
        for key, array in buffer.observations.items():
            values = np.empty((len(time), *array.shape[2:]), dtype=array.dtype)
            values[inside] = array[after[inside], env_index[inside]]
            values[~inside] = self._observation[key][env_index[~inside]]
            next_observations[key] = values
        to_device = lambda arrays: {k: torch.from_numpy(v).to(self.device) for k, v in arrays.items()}  # noqa: E731
        actors = {
            actor: ActorTransitions(
                rows=torch.arange(n_steps, device=self.device),
                observations=to_device(gather(buffer.observations)),
                actions=to_device(gather(buffer.actions)),
                latents=to_device(gather(buffer.latents)),
            )
        }
        rollout = self._assemble(
            model, actors, [actor] * n_steps, records, bootstraps,
            [(actor, (time, env_index), next_observations)], behaviour,
        )  # fmt: skip
        rollout.dropped_transitions = int(transitions.sum()) - n_steps * n
        return rollout

    def _assemble(
        self, model, actors, actor_ids, records, bootstraps, bootstrap_observations, behaviour
    ) -> Rollout:
        to_device = lambda array: torch.from_numpy(array).to(self.device)  # noqa: E731
        terminated = to_device(records["terminated"])
        bootstraps = to_device(bootstraps)
        episode_starts = policy_states = critic_states = None
        if self._memory is not None:
            episode_starts = to_device(records["episode_starts"])
            policy_states, critic_states = self._recurrent_states
        if self._keep_next_observations:
            (transitions,) = actors.values()
            transitions.next_observations = _next_observations(
                transitions.observations, bootstrap_observations, self.device
            )
            values = next_values = None
        elif critic_states is not None:
            values, next_values, self._critic_states = recurrent_critic_values(
                model.critic,
                actors,
                episode_starts,
                self._starting,
                bootstrap_observations,
                {key: value.to(self.device) for key, value in critic_states.items()},
                self.device,
            )
            next_values.masked_fill_(terminated, 0.0)
            if not behaviour:
                values = None
        else:
            values, next_values = _critic_values(
                model.critic, actors, terminated, bootstrap_observations, behaviour, self.device
            )
        return Rollout(
            actors=actors,
            actor_ids=actor_ids,
            rewards=to_device(records["rewards"]),
            terminated=terminated,
            truncated=to_device(records["truncated"]),
            env_step_ends=to_device(records["env_step_ends"]),
            log_probs=to_device(records["log_probs"]) if behaviour else None,
            values=values,
            next_values=next_values,
            bootstraps=bootstraps,
            episode_starts=episode_starts,
            policy_states=_on(policy_states, self.device),
            critic_states=_on(critic_states, self.device),
        )

    def _grow(self, capacity: int) -> None:
        """Buffers for ``capacity`` raw steps, keeping what they hold."""
        if capacity <= len(self._steps.rewards):
            return
        old, self._steps = self._steps, StepRecords(capacity, self.env.n_envs)
        for name, array in old.arrays().items():
            self._steps.arrays()[name][: len(array)] = array
        for buffer in self._buffers.values():
            buffer.grow(capacity)

    @property
    def n_envs(self) -> int:
        return self.env.n_envs

    @property
    def observation_spaces_dict(self) -> dict:
        return self.env.observation_spaces_dict

    @property
    def action_spaces_dict(self) -> dict:
        return self.env.action_spaces_dict

    def _buffer_for(self, actor: ActorID) -> ActorBuffer:
        buffer = self._buffers.get(actor)
        if buffer is None:
            env = self.env
            buffer = ActorBuffer(
                env.observation_spaces_dict[actor.step_key],
                env.action_spaces_dict[actor.step_key],
                len(self._steps.rewards),
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


def _on(states: dict | None, device: torch.device) -> dict | None:
    return None if states is None else {key: value.to(device) for key, value in states.items()}


def _next_observations(observations, bootstrap_observations, device) -> dict[str, torch.Tensor]:
    """``(T, N, ...)`` per key: the observation after each transition of one actor: the next
    transition's, overwritten where the rollout or an episode ends by ``bootstrap_observations``
    (see :func:`_critic_values`)."""
    following = {key: torch.cat((value[1:], value[-1:])) for key, value in observations.items()}
    for _, where, batch in bootstrap_observations:
        for key, value in following.items():
            value[where] = torch.as_tensor(np.asarray(batch[key]), device=device, dtype=value.dtype)
    return following


@torch.no_grad()  # not inference mode: the values take part in losses as constants
def _critic_values(critic, actors, terminated, bootstrap_observations, all_values, device):
    """``(values, next_values)`` of a rollout (see :class:`Rollout`): one critic pass per actor over
    its observations (skipped without ``all_values``: values None), then one per group of
    ``bootstrap_observations`` ``(actor_id, (time, env), observations)``: the observations after
    the transitions at ``[time, env]`` that are not the next transition's."""
    values = torch.zeros(terminated.shape, device=device) if all_values else None
    next_values = torch.zeros(terminated.shape, device=device)
    if values is not None:
        for actor_id, transitions in actors.items():
            values[transitions.rows] = critic.predict_value(
                transitions.observations, actor_id=actor_id
            ).float()
        next_values[:-1] = values[1:]
    for actor_id, where, observations in bootstrap_observations:
        observations = {
            key: torch.as_tensor(np.asarray(value), device=device) for key, value in observations.items()
        }
        next_values[where] = critic.predict_value(observations, actor_id=actor_id).float()
    return values, next_values.masked_fill_(terminated, 0.0)
