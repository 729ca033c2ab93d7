"""Videos of evaluation episodes: gymnasium's ``RecordVideo`` around the gymnasium env inside a
Maze env, writing one MP4 file per episode with moviepy (the optional extra ``maze-core[video]``).

See docs/export.md, "Videos of evaluation episodes".
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

import gymnasium
import numpy as np

from maze_core.env.gym_env import GymMazeEnv
from maze_core.errors import ConfigurationError

INSTALL_HINT = 'pip install "maze-core[video]"'
#: the videos' file names: eval-episode-0.mp4, eval-episode-1.mp4, ...
NAME_PREFIX = "eval"


def recording_factory(env_factory: Callable, video_dir: str | Path, n_episodes: int) -> Callable:
    """A factory of one env whose first ``n_episodes`` episodes are recorded to ``video_dir``.

    Checked at once, on a probe env: the video writer is installed, the env is a gymnasium env
    (inside any Maze wrappers) that renders ``rgb_array`` frames (an env created without a render
    mode is created again from its gymnasium id with ``render_mode="rgb_array"``), and a frame can
    be drawn (a renderer's own package, such as pygame, is installed).
    """
    try:
        import moviepy  # noqa: F401
    except ImportError:
        raise ConfigurationError(f"recording videos needs moviepy: {INSTALL_HINT}") from None
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # pygame draws off-screen, with no display
    probe = env_factory()
    try:
        gym_env = _rendering_gym_env(probe)
        gym_env.reset(seed=0)
        frame = gym_env.render()
        gym_env.close()
    except gymnasium.error.DependencyNotInstalled as error:
        raise ConfigurationError(f"rendering {_name(probe)} needs a package: {error}") from None
    finally:
        probe.close()
    if not (isinstance(frame, np.ndarray) and frame.ndim == 3):
        raise ConfigurationError(
            f"{_name(probe)} rendered a {type(frame).__name__}, not an image (an array of height x width "
            f"x channels): it cannot be recorded"
        )

    def make():
        env = env_factory()
        created, rendering = env.unwrapped.env, _rendering_gym_env(env)
        if rendering is not created:
            created.close()
        with warnings.catch_warnings():  # videos of earlier evaluations are overwritten, as intended
            warnings.filterwarnings("ignore", message=".*Overwriting existing videos")
            recorder = gymnasium.wrappers.RecordVideo(
                rendering,
                str(video_dir),
                episode_trigger=lambda episode: episode < n_episodes,
                name_prefix=NAME_PREFIX,
            )
        env.unwrapped.env = recorder
        return env

    return make


def _rendering_gym_env(env) -> gymnasium.Env:
    """The gymnasium env inside Maze env ``env``, rendering ``rgb_array`` frames."""
    maze_env = env.unwrapped
    if not isinstance(maze_env, GymMazeEnv):
        raise ConfigurationError(
            f"{type(maze_env).__name__} is a Maze env, not a gymnasium one: videos are recorded with "
            f"gymnasium's RecordVideo, for envs that render rgb_array frames"
        )
    gym_env = maze_env.env
    if gym_env.render_mode == "rgb_array":
        return gym_env
    modes = gym_env.metadata.get("render_modes", [])
    if "rgb_array" not in modes:
        raise ConfigurationError(
            f"{_name(env)} cannot render frames for a video: its render modes are {modes or 'none'}, "
            f"and videos need 'rgb_array'"
        )
    if gym_env.render_mode is not None or gym_env.spec is None:
        raise ConfigurationError(
            f"{_name(env)} renders in mode {gym_env.render_mode!r}; for a video, create it with "
            f"render_mode='rgb_array'"
        )
    return gymnasium.make(gym_env.spec, render_mode="rgb_array")


def _name(env) -> str:
    gym_env = getattr(env.unwrapped, "env", None)
    spec = getattr(gym_env, "spec", None)
    return spec.id if spec is not None else type(env.unwrapped).__name__
