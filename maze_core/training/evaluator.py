"""Evaluation of a policy on complete episodes."""

from __future__ import annotations

import numpy as np

from maze_core import statistics
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

    def __repr__(self) -> str:
        return (
            f"RolloutEvaluator(eval_env={type(self.eval_env).__name__}, n_episodes={self.n_episodes}, "
            f"deterministic={self.deterministic})"
        )

    def evaluate(self, policy, seed: int | None = None, prefix: str | None = None) -> dict[str, float]:
        """Evaluate ``policy``; stats go to the log hub under the env's logging prefix (or ``prefix``)."""
        was_training = getattr(policy, "training", False)
        if hasattr(policy, "eval"):
            policy.eval()
        try:
            if hasattr(self.eval_env, "n_envs"):
                returns, lengths = self._run_vector(policy, seed)
            else:
                returns, lengths = self._run_single(policy, seed)
        finally:
            if was_training:
                policy.train()
        stats = statistics.reduce_episodes(returns, lengths)
        if self.model_selection is not None:
            self.model_selection.update(stats["episode_return_mean"])
        prefix = prefix or getattr(self.eval_env, "logging_prefix", None)
        if prefix and statistics.has_writers():
            statistics.log_stats(prefix, stats)
        elif prefix:  # used on its own, as in the tutorial: show the result now
            from rich.console import Console

            Console().print(summary(prefix, stats))
        return stats

    def _act(self, policy, obs):
        return policy.compute_action(obs, actor_id=self.eval_env.actor_id(), deterministic=self.deterministic)

    def _run_single(self, policy, seed):
        env = self.eval_env
        multi_substep = not _single_substep(env)
        returns, lengths = [], []
        for episode in range(self.n_episodes):
            obs, _ = env.reset(seed=None if seed is None else seed + episode)
            episode_return, episode_length, done = 0.0, 0, False
            while not done:
                time_before = env.get_env_time() if multi_substep else None
                obs, reward, terminated, truncated, _ = env.step(self._act(policy, obs))
                episode_return += float(reward)
                done = terminated or truncated
                if not multi_substep or done or env.get_env_time() != time_before:
                    episode_length += 1
            returns.append(episode_return)
            lengths.append(episode_length)
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
        returns, lengths = [], []
        obs, _ = env.reset(seed=seed)
        while (finished < targets).any():
            times_before = env.get_env_time() if multi_substep else None
            obs, rewards, terminated, truncated, _ = env.step(self._act(policy, obs))
            done = terminated | truncated
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
                episode_returns[i] = 0.0
                episode_lengths[i] = 0
        if hasattr(env, "clear_epoch_stats"):
            env.clear_epoch_stats()  # evaluation episodes are reported here, not as env epoch stats
        return returns, lengths


def _single_substep(env) -> bool:
    counts = env.agent_counts_dict
    return len(counts) == 1 and next(iter(counts.values())) == 1


def summary(title: str, stats: dict[str, float]) -> str:
    """One line with the main evaluation statistics (rich markup)."""
    return (
        f"[bold]{title}[/] {int(stats['episode_count'])} episodes: mean return "
        f"[cyan]{stats['episode_return_mean']:.2f}[/] (min {stats['episode_return_min']:.2f}, "
        f"max {stats['episode_return_max']:.2f}), mean length {stats['episode_length_mean']:.1f}"
    )
