"""Recurrent policies and critics: the hidden state is carried per env and actor and reset exactly
at episode starts on every env path (while acting, in the collector's critic pass, in training,
in evaluation), training replays each sequence from the state it started from and never across
an episode start, and a recurrent run survives checkpoints, from_run_dir and evaluation."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from dummy_envs import ScriptedVectorEnv
from dummy_models import QUICK_RUN
from gymnasium.vector import AutoresetMode
from maze_a2c import A2C, A2CAlgorithmConfig
from maze_critics import StepStateCriticComposer
from maze_policies import ProbabilisticPolicyComposer
from maze_ppo import PPO, PPOAlgorithmConfig
from shell import maze
from torch import nn

from maze_core import RunContext
from maze_core.agent import RecurrentMemory, TorchActorCritic
from maze_core.env import ActorID, MazeEnv, SequentialVectorEnv
from maze_core.env.native import NativeVectorEnv
from maze_core.errors import ConfigurationError
from maze_core.overrides import parse_overrides
from maze_core.perception import RecurrentBlock, RecurrentNet
from maze_core.training.evaluator import RolloutEvaluator
from maze_core.training.rollout import VectorEnvCollector


class Counter(RecurrentNet):
    """Remembers how many steps it took since its state was reset: the value (a critic) is that
    count; a policy's logits are zeros. Every step's observation ``v`` (the env time in the
    episode) and count are recorded: a correct reset makes each count ``v + 1``."""

    def __init__(self, obs_shapes, action_logits_shapes=None):
        super().__init__()
        self.state_size = 1
        self.heads = dict(action_logits_shapes or {})
        self.weight = nn.Parameter(torch.zeros(()))
        self.seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward_with_state(self, observation, state, lengths=None):
        n_sequences = state.shape[0]
        v = observation["v"].reshape(-1, n_sequences)  # (L, K)
        steps = torch.arange(1, v.shape[0] + 1, dtype=state.dtype)[:, None]
        counts = state[:, 0] + steps
        if lengths is not None or len(v) == 1:  # training's padded sequences are checked by their values
            real = torch.ones_like(v, dtype=torch.bool) if lengths is None else steps <= lengths[None, :]
            self.seen.append((v[real].detach().clone(), counts[real].detach().clone()))
        done = torch.full((n_sequences,), v.shape[0]) if lengths is None else lengths
        flat = counts.reshape(-1, 1) + self.weight
        if self.heads:
            outputs = {
                head: flat.new_zeros((flat.shape[0], *shape)) + self.weight
                for head, shape in self.heads.items()
            }
        else:
            outputs = {"value": flat}
        return outputs, state + done[:, None].to(state)

    def counts_match_the_episode_times(self) -> bool:
        assert self.seen, "the network never ran"
        return all(torch.equal(counts, v + 1) for v, counts in self.seen)


class CountingEnv(MazeEnv):
    """Observes ``v``: the env time in the episode. ``n_sub_steps`` step keys or ``n_agents`` agents
    act in turn in one env step; episodes last ``lengths`` env steps in turn and end terminated and
    truncated alternately."""

    def __init__(self, lengths=(3, 5, 2), n_sub_steps=1, n_agents=1):
        self.lengths, self.n_sub_steps, self.n_agents = list(lengths), n_sub_steps, n_agents
        self._episode, self._turn, self._time = -1, 0, 0

    @property
    def agent_counts_dict(self):
        return {key: self.n_agents for key in range(self.n_sub_steps)}

    @property
    def observation_spaces_dict(self):
        return {key: gym.spaces.Dict(v=gym.spaces.Box(0, 100, (1,))) for key in range(self.n_sub_steps)}

    @property
    def action_spaces_dict(self):
        return {key: gym.spaces.Dict(action=gym.spaces.Discrete(2)) for key in range(self.n_sub_steps)}

    def actor_id(self):
        return ActorID(self._turn % self.n_sub_steps, self._turn // self.n_sub_steps)

    def _observe(self):
        return {"v": np.array([self._time], dtype=np.float32)}

    def reset(self, seed=None, options=None):
        self._episode, self._turn, self._time = self._episode + 1, 0, 0
        return self._observe(), {}

    def step(self, action):
        self._turn = (self._turn + 1) % (self.n_sub_steps * self.n_agents)
        ended = False
        if self._turn == 0:
            self._time += 1
            if self.n_sub_steps * self.n_agents > 1:
                self.advance_env_time()
            ended = self._time == self.lengths[self._episode % len(self.lengths)]
        truncated = ended and self._episode % 2 == 1
        return self._observe(), 1.0, ended and not truncated, truncated, {}


def _counting_vector_env(path: str):
    """The env paths: per-env same-step vector envs, a native next-step vector env, multi-step
    and multi-agent envs."""
    if path == "next_step":
        script = [
            [([0, 1, 2], "truncated"), ([0, 1, 2, 3, 4], "terminated"), ([0, 1], "truncated")] * 3,
            [([0, 1, 2, 3], "terminated"), ([0, 1], "truncated"), ([0, 1, 2], "terminated")] * 3,
        ]
        return NativeVectorEnv(ScriptedVectorEnv(AutoresetMode.NEXT_STEP, script))
    kwargs = {"same_step": {}, "multi_step": {"n_sub_steps": 2}, "multi_agent": {"n_agents": 2}}[path]
    lengths = [(3, 5, 2), (4, 1, 3), (2, 2, 6)]
    return SequentialVectorEnv(
        [lambda lengths=lengths: CountingEnv(lengths, **kwargs) for lengths in lengths]
    )


def _counting_model(env):
    spaces, counts = env.observation_spaces_dict, env.agent_counts_dict
    policy = ProbabilisticPolicyComposer(
        env.action_spaces_dict, spaces, agent_counts_dict=counts, networks={k: Counter for k in spaces}
    )
    critic = StepStateCriticComposer(spaces, counts, networks={k: Counter for k in spaces})
    for network in (*policy.networks.values(), *critic.networks.values()):
        network.seen.clear()  # the composers' construction check ran them on sampled observations
    return TorchActorCritic(policy.policy, critic.critic)


PATHS = ["same_step", "next_step", "multi_step", "multi_agent"]


@pytest.mark.parametrize("path", PATHS)
def test_the_hidden_state_resets_at_every_episode_start_while_acting_valuing_and_training(path):
    env = _counting_vector_env(path)
    model = _counting_model(env)
    collector = VectorEnvCollector(env)
    trainer = PPO(PPOAlgorithmConfig(), model=model, collector=collector)
    for _ in range(3):  # episodes continue across rollouts: the states are carried
        rollout = collector.collect(model, 7, keep_reset_rows=True)
        v = torch.zeros(rollout.batch_shape)
        for transitions in rollout.actors.values():
            v[transitions.rows] = transitions.observations["v"][..., 0]
        assert torch.equal(rollout.values, v + 1)  # the critic's sequence pass
        truncated_or_last = rollout.bootstraps & ~rollout.terminated
        # a bootstrap continues the episode: its env time is one more after a whole env step
        following = v + rollout.env_step_ends.float()
        assert torch.equal(rollout.next_values[truncated_or_last], (following + 1)[truncated_or_last])
        advantages, _ = trainer.advantages_and_returns(rollout)
        for batch in rollout.minibatches(2, advantages=advantages):
            _, _, values = trainer.evaluate_actions(batch)
            assert torch.equal(values, batch.values)
        _, _, values = A2C(A2CAlgorithmConfig(), model=model, collector=None).evaluate_actions(rollout)
        assert torch.equal(values, rollout.values)
    policy, critic = model.policy.networks.values(), model.critic.networks.values()
    assert all(network.counts_match_the_episode_times() for network in (*policy, *critic))


@pytest.mark.parametrize("path", ["same_step", "next_step", "multi_step"])
def test_the_evaluator_starts_every_episode_with_a_fresh_state(path):
    env = _counting_vector_env(path)
    policy = _counting_model(env).policy
    RolloutEvaluator(env, n_episodes=6).evaluate(policy)
    single = CountingEnv((4, 2, 3), **({"n_sub_steps": 2} if path == "multi_step" else {}))
    RolloutEvaluator(single, n_episodes=3).evaluate(policy)
    assert all(network.counts_match_the_episode_times() for network in policy.networks.values())


def _lstm_model(env):
    spaces, counts = env.observation_spaces_dict, env.agent_counts_dict
    policy = ProbabilisticPolicyComposer(
        env.action_spaces_dict, spaces, agent_counts_dict=counts, recurrent="lstm"
    )
    critic = StepStateCriticComposer(spaces, counts, recurrent="gru")
    return TorchActorCritic(policy.policy, critic.critic)


@pytest.mark.parametrize("path", PATHS)
def test_sequence_minibatches_replay_what_acted_and_never_span_two_episodes(path):
    """With the weights that acted, training's sequences reproduce the behaviour log-probs and the
    values exactly: each starts from the state it started from, none crosses an episode start."""
    torch.manual_seed(0)
    env = _counting_vector_env(path)
    model = _lstm_model(env)
    collector = VectorEnvCollector(env)
    trainer = PPO(PPOAlgorithmConfig(), model=model, collector=collector)
    for _ in range(2):
        rollout = collector.collect(model, 7, keep_reset_rows=True)
        for batch in rollout.minibatches(2):
            for transitions in batch.actors.values():
                v = transitions.observations["v"][..., 0]  # (L, K) env times
                real = torch.arange(len(v))[:, None] < transitions.sequences.lengths
                steps = v[1:] - v[:-1]
                # within a sequence the env time only grows by one: no episode start inside
                assert torch.all(steps[real[1:]] == 1)
            log_probs, _, values = trainer.evaluate_actions(batch)
            torch.testing.assert_close(log_probs, batch.log_probs, atol=1e-5, rtol=0)
            torch.testing.assert_close(values, batch.values, atol=1e-5, rtol=0)


def test_a_recurrent_network_without_memory_is_refused_and_a_memory_of_other_envs_too():
    env = _counting_vector_env("same_step")
    policy = _lstm_model(env).policy
    observation = {"v": np.zeros((3, 1), dtype=np.float32)}
    with pytest.raises(ConfigurationError, match="recurrent and needs its hidden state: pass memory="):
        policy.compute_action(observation)
    memory = RecurrentMemory()
    policy.compute_action(observation, memory=memory)
    with pytest.raises(
        ConfigurationError, match="holds the state of 3 envs, but this observation is a batch of 1"
    ):
        policy.compute_action({"v": np.zeros(1, dtype=np.float32)}, memory=memory)


def test_recurrent_runs_refuse_more_minibatches_than_envs():
    env = _counting_vector_env("same_step")
    model = _lstm_model(env)
    rollout = VectorEnvCollector(env).collect(model, 4)
    with pytest.raises(ConfigurationError, match="n_minibatches=4: .* at most the 3 envs"):
        next(rollout.minibatches(4))


RECURRENT_RUN = {**QUICK_RUN, "algorithm.n_epochs": 1, "model.recurrent": "lstm", "model.hidden_units": [16]}


def _actions(context, observations) -> list[int]:
    context.reset_memory()
    return [int(context.compute_action(o, deterministic=True)["action"]) for o in observations]


@pytest.mark.parametrize("algorithm", ["ppo", pytest.param("a2c", marks=pytest.mark.slow)])
def test_a_recurrent_run_survives_checkpoint_from_run_dir_and_evaluation_and_resumes_fresh(
    tmp_path, algorithm
):
    with RunContext(
        "CartPole-v1", algorithm=algorithm, overrides=RECURRENT_RUN, run_dir=tmp_path, seed=3, silent=True
    ) as context:
        context.train()
        observations = [
            {"observation": np.array([0.0, 0.1 * i, 0.02, -0.1], dtype=np.float32)} for i in range(6)
        ]
        acted = _actions(context, observations)
        assert context.evaluate(2)["episode_count"] == 2
    loaded = RunContext.from_run_dir(tmp_path, silent=True)
    # compute_action carries the state across calls, reset_memory() forgets it
    assert _actions(loaded, observations) == acted == _actions(loaded, observations)
    policy, memory = loaded.policy, RecurrentMemory()
    assert acted == [
        int(policy.compute_action(o, deterministic=True, memory=memory)["action"]) for o in observations
    ]
    assert loaded.evaluate(2)["episode_count"] == 2
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert "memory" not in str(list(checkpoint.get("collector", {}))), "no hidden state goes into checkpoints"
    # resuming starts from fresh states: the first rollout's stored start states are all zero
    loaded.train(n_epochs=1)
    collector = loaded._trainer.collector
    assert collector._memory is not None
    loaded.close()
    resumed = RunContext.from_run_dir(tmp_path, overrides={"algorithm.n_epochs": 3}, silent=True)
    resumed._build()
    rollout = resumed._trainer.collector.collect(
        resumed._trainer.model, 4, behaviour=algorithm == "ppo", keep_reset_rows=True
    )
    assert rollout.policy_states == {} and rollout.episode_starts[0].all()
    resumed.close()


def test_set_reaches_the_recurrent_switch_of_each_part_and_of_both(tmp_path):
    names = {"algorithm": "ppo", "policy": "probabilistic", "critic": "step_state", "runner": "dev"}
    overrides = parse_overrides(
        ["model.recurrent=gru", "critic.recurrent=lstm", "model.hidden_units=[8]"], names
    )
    assert overrides == {"model.recurrent": "gru", "critic.recurrent": "lstm", "model.hidden_units": [8]}
    context = RunContext(
        "CartPoleNoVel-v1", algorithm="ppo", overrides=overrides, run_dir=tmp_path, silent=True
    )
    context._build_model()
    policy, critic = context._model.policy.networks[0], context._model.critic.networks[0]
    assert (policy.recurrent.cell, critic.recurrent.cell) == ("gru", "lstm")


@pytest.mark.slow
def test_the_cli_trains_and_evaluates_a_recurrent_policy_with_set(tmp_path):
    run_dir = tmp_path / "run"
    settings = {**QUICK_RUN, "model.recurrent": "gru", "model.hidden_units": "[16]"}
    sets = [f"--set={key}={value}" for key, value in settings.items()]
    maze(
        "train",
        "--env",
        "CartPoleNoVel-v1",
        "--algorithm",
        "ppo",
        "--epochs",
        "1",
        "--run-dir",
        run_dir,
        *sets,
    )
    stats = json.loads(maze("evaluate", run_dir, "--episodes", "2", "--json").stdout)
    assert stats["episode_count"] == 2
    assert '"recurrent": "gru"' in (run_dir / "config.json").read_text()


def test_an_unknown_recurrent_cell_is_a_one_line_error():
    with pytest.raises(
        ConfigurationError, match="recurrent='rnn' is not a recurrent cell: use one of 'lstm', 'gru'"
    ):
        RunContext(
            "CartPole-v1", algorithm="ppo", overrides={"model.recurrent": "rnn"}, silent=True
        )._build_model()


@pytest.mark.parametrize("cell,layers", [("lstm", 1), ("lstm", 2), ("gru", 2)])
def test_the_block_runs_padded_sequences_as_step_by_step_calls_would(cell, layers):
    """One call over K sequences padded to L steps gives every real step's output of stepping each
    sequence alone, and (with lengths) the state after its last real step."""
    torch.manual_seed(0)
    block = RecurrentBlock(3, hidden_size=5, cell=cell, num_layers=layers)
    lengths = torch.tensor([4, 1, 3])
    x = torch.randn(4, 3, 3)  # (L, K, features)
    state = torch.randn(3, block.state_size)
    out, final = block(x.reshape(-1, 3), state, lengths)
    out = out.reshape(4, 3, 5)
    for k, length in enumerate(lengths.tolist()):
        step_state = state[k : k + 1]
        for t in range(length):
            step_out, step_state = block(x[t, k : k + 1], step_state)
            torch.testing.assert_close(out[t, k : k + 1], step_out)
        torch.testing.assert_close(final[k : k + 1], step_state)
