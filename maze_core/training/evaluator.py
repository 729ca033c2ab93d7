"""Evaluation of a policy on complete episodes."""

from __future__ import annotations

import numpy as np

from maze_core import statistics
from maze_core.distributions.masks import ResetStepMasks
from maze_core.errors import ConfigurationError


class RolloutEvaluator:
    """Runs exactly ``n_episodes`` complete episodes with a policy and reports their statistics.

    :param eval_env: a vector env (episodes are spread evenly over its envs, so short episodes
        are not over-represented) or a single env (reset between episodes).
    :param n_episodes: how many complete episodes to evaluate.
    :param model_selection: optional ``BestModelSelection`` updated with the mean return. The
        trainer keeps its own best model regardless of this argument.
    :param deterministic: act with the distributions' modes instead of sampling.
    """

    def __init__(self, eval_env, n_episodes: int = 8, model_selection=None, deterministic: bool = False):
        if not isinstance(n_episodes, int) or isinstance(n_episodes, bool) or n_episodes < 1:
            raise ConfigurationError(f"RolloutEvaluator n_episodes={n_episodes!r}: must be an integer >= 1")
        self.eval_env = eval_env
        self.n_episodes = n_episodes
        self.model_selection = model_selection
        self.deterministic = deterministic
        self.total_episode_count = 0
        self.total_step_count = 0
        self._on_episode = _nothing  # set by evaluate(): called after each episode

    def __repr__(self) -> str:
        return (
            f"RolloutEvaluator(eval_env={type(self.eval_env).__name__}, n_episodes={self.n_episodes}, "
            f"deterministic={self.deterministic})"
        )

    def evaluate(
        self, policy, seed: int | None = None, prefix: str | None = None, on_episode=None
    ) -> dict[str, float]:
        """Evaluate ``policy``; stats go to the log hub under the env's logging prefix (or ``prefix``).

        The statistics have the keys of training statistics: return and length statistics, the
        env's metrics (``metric/<name>``), the episode count, and ``total_episode_count`` /
        ``total_step_count`` over all evaluations of this evaluator. ``on_episode()`` is called
        after each episode (a progress display).
        """
        was_training = getattr(policy, "training", False)
        if hasattr(policy, "eval"):
            policy.eval()
        recorder = getattr(self.eval_env, "episode_recorder", None)
        if recorder is not None:
            recorder.clear()  # only this evaluation's metrics
        self._on_episode = on_episode or _nothing
        try:
            returns, lengths = self.episodes(policy, seed)
            metrics = {name: list(values) for name, values in recorder.metrics.items()} if recorder else {}
        finally:
            if was_training:
                policy.train()
            if recorder is not None:
                recorder.clear()  # evaluation episodes are reported here, not as env epoch stats
        self.total_episode_count += len(returns)
        self.total_step_count += sum(lengths)
        stats = statistics.reduce_episodes(returns, lengths, metrics)
        stats.update(total_episode_count=self.total_episode_count, total_step_count=self.total_step_count)
        if self.model_selection is not None:
            self.model_selection.update(stats["episode_return_mean"])
        prefix = prefix or getattr(self.eval_env, "logging_prefix", None)
        if prefix and statistics.has_writers():
            statistics.log_stats(prefix, stats)
        elif prefix:  # used on its own, as in the tutorial: show the result now
            from maze_core.training.writers import make_console

            make_console().print(summary(prefix, stats))
        return stats

    def episodes(self, policy, seed: int | None = None) -> tuple[list[float], list[int]]:
        """Returns and lengths of ``n_episodes`` complete episodes with ``policy`` (nothing logged)."""
        if hasattr(self.eval_env, "n_envs"):
            return self._run_vector(policy, seed)
        return self._run_single(policy, seed)

    def _act(self, policy, obs, memory=None):
        actor_id = self.eval_env.actor_id()
        if memory is None:
            return policy.compute_action(obs, actor_id=actor_id, deterministic=self.deterministic)
        return policy.compute_action(obs, actor_id=actor_id, deterministic=self.deterministic, memory=memory)

    def _run_single(self, policy, seed):
        env = self.eval_env
        multi_substep = not _single_substep(env)
        returns, lengths = [], []
        memory = _memory(policy)
        for episode in range(self.n_episodes):
            obs, _ = env.reset(seed=None if seed is None else seed + episode)
            if memory is not None:  # every episode starts with a fresh hidden state
                memory.reset()
            episode_return, episode_length, done = 0.0, 0, False
            while not done:
                time_before = env.get_env_time() if multi_substep else None
                obs, reward, terminated, truncated, _ = env.step(self._act(policy, obs, memory))
                episode_return += float(reward)
                done = terminated or truncated
                if not multi_substep or done or env.get_env_time() != time_before:
                    episode_length += 1
            returns.append(episode_return)
            lengths.append(episode_length)
            self._on_episode()
        return returns, lengths

    def _run_vector(self, policy, seed):
        env = self.eval_env
        n = env.n_envs
        targets = np.array([(self.n_episodes + i) // n for i in range(n)])[::-1]
        finished = np.zeros(n, dtype=int)
        episode_returns = np.zeros(n)
        episode_lengths = np.zeros(n, dtype=int)
        multi_substep = not _single_substep(env)
        # next-step autoreset (native vector envs): the step after an episode end only resets the env
        next_step_autoreset = getattr(env, "autoreset_mode", "same_step") == "next_step"
        reset_masks = ResetStepMasks(env) if next_step_autoreset else None
        returns, lengths = [], []
        memory = _memory(policy)
        obs, _ = env.reset(seed=seed)
        while (finished < targets).any():
            times_before = env.get_env_time() if multi_substep else None
            if reset_masks is not None:
                reset_masks.lift(obs)
            obs, rewards, terminated, truncated, _ = env.step(self._act(policy, obs, memory))
            done = terminated | truncated
            if memory is not None:  # an env's next step after its episode ended starts afresh
                memory.reset(env.reset_steps() if next_step_autoreset else done)
            if reset_masks is not None:
                reset_masks.record(terminated, truncated)
            episode_returns += rewards
            if multi_substep:
                episode_lengths += done | (env.get_env_time() != times_before)
            else:
                episode_lengths += ~env.reset_steps() if next_step_autoreset else 1
            for i in np.flatnonzero(done):
                if finished[i] < targets[i]:
                    returns.append(float(episode_returns[i]))
                    lengths.append(int(episode_lengths[i]))
                    finished[i] += 1
                    self._on_episode()
                episode_returns[i] = 0.0
                episode_lengths[i] = 0
        return returns, lengths


def _nothing() -> None:
    pass


def _memory(policy):
    """A fresh hidden state for a recurrent policy; None for any other."""
    if not getattr(policy, "is_recurrent", False):
        return None
    from maze_core.agent.memory import RecurrentMemory

    return RecurrentMemory()


def _single_substep(env) -> bool:
    counts = env.agent_counts_dict
    return len(counts) == 1 and next(iter(counts.values())) == 1


def summary(title: str, stats: dict[str, float]) -> str:
    """One line with the main evaluation statistics (rich markup), under 80 columns for most envs:
    mean return (min, max) and mean episode length."""
    if not stats.get("episode_count"):
        return f"[bold]{title}[/]: no episode finished"
    count = stats["episode_count"]
    return (
        f"[bold]{title}[/]: {count} episode{'s' if count > 1 else ''}, return "
        f"[cyan]{stats['episode_return_mean']:.2f}[/] (min {stats['episode_return_min']:.2f}, "
        f"max {stats['episode_return_max']:.2f}), length {stats['episode_length_mean']:.1f}"
    )
