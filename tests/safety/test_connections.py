"""A run directory never decides where Maze connects: a Ray address in config.json is not used
when the run is resumed, unless the user gives it again or trusts the run.

Tested the way the hole was found: a listener on a loopback port, in a private network namespace
(``unshare -n`` with only loopback up, as root), counting the connections ``maze train --resume``
opens to it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap

import pytest
from safety_support import cli, one_line_error
from shell import run

from maze_core import RunContext

PORT = 10001

LISTENER = textwrap.dedent(
    """
    import socket, sys, pathlib
    count = pathlib.Path(sys.argv[1])
    server = socket.create_server(("127.0.0.1", int(sys.argv[2])))
    count.write_text("0")
    n = 0
    while True:
        connection, _ = server.accept()
        n += 1
        count.write_text(str(n))
        connection.close()
    """
)


def as_ray_run(run_dir, address: str) -> None:
    """Make the trained dev run a ray run whose config.json names ``address``."""
    path = run_dir / "config.json"
    config = json.loads(path.read_text())
    overrides = {k: v for k, v in config["arguments"]["overrides"].items() if k != "runner.n_envs"}
    overrides.update({"runner.address": address, "runner.n_workers": 1, "runner.envs_per_worker": 1})
    config["arguments"].update(runner="ray", overrides=overrides)
    path.write_text(json.dumps(config))


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare -n")
def test_resume_never_connects_to_an_address_from_config_json(run_copy, tmp_path):
    as_ray_run(run_copy, f"ray://127.0.0.1:{PORT}")
    count = tmp_path / "connections"
    script = textwrap.dedent(
        f"""
        ip link set lo up
        {sys.executable} -c '{LISTENER}' {count} {PORT} &
        listener=$!
        while [ ! -s {count} ]; do sleep 0.05; done
        {sys.executable} -m maze_core train --resume {run_copy} --epochs 2
        status=$?
        sleep 1
        kill $listener
        exit $status
        """
    )
    result = run("unshare", "-n", "sh", "-c", script, check=False, timeout=180)
    one_line_error(
        result,
        "config.json sets runner.address='ray://127.0.0.1:10001', and Maze never connects where a run "
        "directory says",
        "--set runner.address=ray://127.0.0.1:10001 with --resume",
        "--trust-run-dir",
    )
    assert count.read_text() == "0"


def test_the_user_gives_the_address_again(run_copy):
    as_ray_run(run_copy, "ray://127.0.0.1:10001")
    with RunContext.from_run_dir(run_copy, silent=True) as context:
        assert context.runner.address is None  # what evaluation builds: nothing connects there
    given = {"runner.address": "ray://127.0.0.1:10002"}
    with RunContext.from_run_dir(run_copy, overrides=given, silent=True) as context:
        assert context.runner.address == "ray://127.0.0.1:10002"
        assert context._withheld_options == {}
    with RunContext.from_run_dir(run_copy, silent=True, trust_run_dir=True) as context:
        assert context.runner.address == "ray://127.0.0.1:10001"


def test_resume_takes_only_machine_options_from_the_command_line(run_copy):
    one_line_error(
        cli("train", "--resume", run_copy, "--set", "runner.n_envs=3"),
        "--set runner.n_envs=3 cannot be given with it",
        "none for the dev runner",
    )
    as_ray_run(run_copy, "ray://127.0.0.1:10001")
    one_line_error(
        cli("train", "--resume", run_copy, "--set", "algorithm.lr=0.1"),
        "--set may only give where this machine connects (runner.address)",
    )
