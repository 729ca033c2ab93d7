"""Case 7: training never writes through a symbolic link in the run directory."""

from __future__ import annotations

import json

import pytest
from safety_support import QUICK_OVERRIDES

from maze_core import RunContext
from maze_core.errors import RunDirectoryError


def resume(run_dir, epochs: int = 2):
    with RunContext.from_run_dir(run_dir, overrides={"algorithm.n_epochs": epochs}, silent=True) as context:
        context.train()


@pytest.mark.parametrize("name", ["stats.jsonl", "config.json"])
def test_a_link_at_a_run_file_is_refused_and_its_target_untouched(run_copy, tmp_path, name):
    victim = tmp_path / "victim"
    content = (run_copy / name).read_text()
    if name == "config.json":  # still a loadable config, so that loading gets as far as writing
        content = json.dumps({**json.loads(content), "note": "the user's own file"})
    victim.write_text(content)
    (run_copy / name).unlink()
    (run_copy / name).symlink_to(victim)
    with pytest.raises(
        RunDirectoryError, match=f"{name} is a symbolic link; Maze never reads or writes through links"
    ):
        resume(run_copy)
    assert victim.read_text() == content


def test_a_link_at_the_old_temporary_checkpoint_name_is_never_written(run_copy, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (run_copy / "checkpoint.tmp").symlink_to(victim)
    resume(run_copy)
    assert victim.read_text() == "precious"
    assert (run_copy / "checkpoint.tmp").is_symlink()  # not Maze's: left alone


def test_overwrite_removes_a_link_not_its_target(run_copy, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (run_copy / "stats.jsonl").unlink()
    (run_copy / "stats.jsonl").symlink_to(victim)
    with RunContext(
        env="CartPole-v1", overrides=QUICK_OVERRIDES, run_dir=run_copy, overwrite=True, silent=True
    ) as context:
        context.train(1)
    assert victim.read_text() == "precious"
    assert not (run_copy / "stats.jsonl").is_symlink()
