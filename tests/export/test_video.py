"""Videos of evaluation episodes: ``maze evaluate --video`` and ``RunContext.evaluate(video_dir=)``
write one MP4 per episode through gymnasium's RecordVideo; envs that cannot render, and a missing
video writer, are one-line errors."""

from __future__ import annotations

import sys

import pytest
from dummy_envs import DictEnv
from shell import maze

from maze_core import RunContext
from maze_core.errors import ConfigurationError

imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")  # comes with moviepy
pytest.importorskip("pygame")  # CartPole's renderer

QUICK = {
    "algorithm.epoch_length": 2,
    "algorithm.n_rollout_steps": 16,
    "runner.n_envs": 2,
    "runner.eval_episodes": 1,
    "model.hidden_units": [16],
}


def trained(env, tmp_path) -> RunContext:
    rc = RunContext(env=env, overrides=QUICK, run_dir=tmp_path / "run", seed=0, silent=True)
    rc.train(n_epochs=1)
    return rc


def test_evaluate_records_every_episode_of_cartpole(tmp_path):
    videos = tmp_path / "videos"
    with trained("CartPole-v1", tmp_path) as rc:
        stats = rc.evaluate(2, video_dir=videos)
    lengths = [int(stats["episode_return_min"]), int(stats["episode_return_max"])]  # CartPole: 1 per step
    assert sorted(path.name for path in videos.iterdir()) == ["eval-episode-0.mp4", "eval-episode-1.mp4"]
    frames = sorted(imageio_ffmpeg.count_frames_and_secs(str(path))[0] for path in videos.iterdir())
    # a frame per step plus the reset's; moviepy's rounding of a clip's duration may drop the last one
    assert [length + 1 - count for count, length in zip(frames, lengths, strict=True)] in (
        [0, 0],
        [0, 1],
        [1, 0],
    )
    for path in videos.iterdir():
        reader = imageio_ffmpeg.read_frames(str(path))
        assert next(reader)["size"] == (600, 400)
        assert path.stat().st_size > 2000


@pytest.mark.slow
def test_maze_evaluate_video(tmp_path):
    trained("CartPole-v1", tmp_path).close()
    videos = tmp_path / "videos"
    result = maze("evaluate", tmp_path / "run", "--episodes", "2", "--video", videos)
    assert f"Videos: eval-episode-0.mp4 to eval-episode-1.mp4 in {videos}" in result.stdout
    assert sorted(path.name for path in videos.iterdir()) == ["eval-episode-0.mp4", "eval-episode-1.mp4"]


def test_envs_that_cannot_render_are_one_line_errors(masked_choice, tmp_path):
    with trained(DictEnv, tmp_path) as rc:
        with pytest.raises(ConfigurationError, match="DictEnv is a Maze env, not a gymnasium one: videos"):
            rc.evaluate(1, video_dir=tmp_path / "videos")
    with trained(masked_choice.masked_choice_env, tmp_path / "masked") as rc:
        with pytest.raises(
            ConfigurationError, match="cannot render frames for a video: its render modes are none"
        ):
            rc.evaluate(1, video_dir=tmp_path / "videos")
    assert not (tmp_path / "videos").exists()


def test_a_missing_video_writer_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "moviepy", None)  # as if not installed
    with trained("CartPole-v1", tmp_path) as rc:
        with pytest.raises(
            ConfigurationError, match=r'recording videos needs moviepy: pip install "maze-core\[video\]"'
        ):
            rc.evaluate(1, video_dir=tmp_path / "videos")
