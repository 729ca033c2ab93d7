"""Action masks through training, evaluation, checkpoints and inference: A2C, PPO and DQN on an
env that raises on any invalid action (``examples/masked_choice.py``), on every env path."""

import gymnasium
import pytest
from gymnasium.vector import AutoresetMode

from maze_core import RunContext
from maze_core.distributions.masks import ActionMaskError
from maze_core.env import ActionMasksAsObservation
from maze_core.env.native import NativeVectorEnv, VectorEnvFactory

QUICK = {
    "algorithm.epoch_length": 3,
    "algorithm.n_rollout_steps": 10,
    "runner.n_envs": 2,
    "runner.eval_episodes": 2,
}
QUICK_DQN = {
    "algorithm.epoch_length": 4,
    "algorithm.train_freq": 10,
    "algorithm.gradient_steps": 2,
    "algorithm.learning_starts": 20,
    "algorithm.batch_size": 8,
    "runner.n_envs": 2,
    "runner.eval_episodes": 2,
}


def strict_env(masked_choice, **kwargs):
    """A factory of the masked env that raises on an invalid action."""
    return lambda: masked_choice.masked_choice_env(strict=True, **kwargs)


@pytest.mark.parametrize("algorithm", ["a2c", "ppo", "dqn"])
def test_no_invalid_action_in_training_evaluation_inference_and_from_a_checkpoint(
    algorithm, masked_choice, tmp_path
):
    # the final observation's mask allows no action: never acted on, never bootstrapped from
    env = strict_env(masked_choice, empty_final_mask=True)
    overrides = QUICK_DQN if algorithm == "dqn" else QUICK
    with RunContext(
        env=env, algorithm=algorithm, overrides=overrides, run_dir=tmp_path, seed=0, silent=True
    ) as rc:
        rc.train(n_epochs=2)
        assert rc.evaluate(n_episodes=3)["episode_count"] == 3
        observation, _ = env().reset(seed=3)
        action = rc.compute_action(observation)
        action = action["action"] if isinstance(action, dict) else action  # a gymnasium env's own action
        assert observation["action_mask"][int(action)]
    # the best model, from its checkpoint
    with RunContext(
        env=env, algorithm=algorithm, overrides=overrides, run_dir=tmp_path, resume=True, silent=True
    ) as rc:
        assert rc.evaluate(n_episodes=3)["episode_count"] == 3


def test_masks_hold_on_the_local_runner(masked_choice, tmp_path):
    overrides = {**QUICK, "runner.n_workers": 2}
    env = strict_env(masked_choice, empty_final_mask=True)
    with RunContext(
        env=env, algorithm="ppo", runner="local", overrides=overrides, run_dir=tmp_path, silent=True
    ) as rc:
        rc.train(n_epochs=1)


def test_masks_hold_on_a_next_step_native_env_whose_final_masks_allow_nothing(masked_choice, tmp_path):
    """The step after an episode's end only resets the env; the policy acts on the final
    observation there, whose mask allows nothing: that row's mask is lifted, the action ignored."""

    def make(n_envs):
        return gymnasium.vector.SyncVectorEnv(
            [strict_env(masked_choice, empty_final_mask=True)] * n_envs,
            autoreset_mode=AutoresetMode.NEXT_STEP,
        )

    for algorithm in ("ppo", "dqn"):
        overrides = QUICK_DQN if algorithm == "dqn" else QUICK
        with RunContext(
            env=VectorEnvFactory(make), algorithm=algorithm, overrides=overrides,
            run_dir=tmp_path / algorithm, silent=True,
        ) as rc:  # fmt: skip
            rc.train(n_epochs=1)
            assert isinstance(rc._trainer.collector.env, NativeVectorEnv)
            assert rc.evaluate(n_episodes=12)["episode_count"] == 12  # several per eval env


def empty_mask_at(masked_choice, step):
    """A factory of the masked env whose mask allows no action at ``step`` of every episode."""

    class EmptyMaskAt(masked_choice.MaskedChoiceEnv):
        def _draw(self):
            super()._draw()
            if self._t == step:
                self._mask[:] = False

    return lambda: ActionMasksAsObservation(EmptyMaskAt(strict=True))


def test_a_mask_that_allows_no_action_stops_training_in_one_line_naming_the_env_and_step(
    masked_choice, tmp_path
):
    env = empty_mask_at(masked_choice, step=4)
    with RunContext(env=env, algorithm="ppo", overrides=QUICK, run_dir=tmp_path, silent=True) as rc:
        with pytest.raises(
            ActionMaskError, match=r"^training env 0, rollout step 4: action mask 'action_mask' allows no"
        ):
            rc.train(n_epochs=1)


@pytest.mark.slow
def test_masked_ppo_reaches_95_percent_of_the_optimum_in_50k_steps_and_unmasked_ppo_does_not(
    masked_choice, tmp_path
):
    """10 PPO epochs of 5,120 env steps with the defaults, evaluated on 200 independent episodes."""
    optimum = masked_choice.optimal_return(n_episodes=2000, seed=10_000)
    envs = {  # unmasked: the same env and observation, the mask not applied
        True: lambda: masked_choice.masked_choice_env(strict=True),
        False: masked_choice.MaskedChoiceEnv,
    }
    results = {}
    for masked, env in envs.items():
        with RunContext(
            env=env, algorithm="ppo", run_dir=tmp_path / str(masked), seed=0, silent=True,
            overrides={"algorithm.patience": 0},
        ) as rc:  # fmt: skip
            rc.train(n_epochs=10)
            results[masked] = rc.evaluate(n_episodes=200)["episode_return_mean"] / optimum
    assert results[True] >= 0.95 > results[False], results
