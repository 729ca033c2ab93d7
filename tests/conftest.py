"""Fixtures shared by the whole suite."""

import signal
from pathlib import Path

import pytest

# A suite started as a background job (`scripts/test.sh &` from a script, `nohup ... &`) inherits
# SIGINT ignored, and so would every process it starts: the tests that press Ctrl-C on a training
# process would wait for it forever. An ignored signal is passed on to children, a handler is not.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _fresh_statistics():
    """Every test starts with no statistics writers and log step 1."""
    from maze_core import statistics

    statistics.clear_global_state()
    yield
    statistics.clear_global_state()


@pytest.fixture
def in_tmp_dir(tmp_path, monkeypatch):
    """Run the test inside an empty directory (runs write to ./outputs by default)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def masked_choice(monkeypatch):
    """The module ``examples/masked_choice.py`` (an env where most actions are invalid), importable
    here and in env worker processes."""
    import importlib
    import os
    from pathlib import Path

    examples = str(Path(__file__).parents[1] / "examples")
    monkeypatch.syspath_prepend(examples)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [examples, os.environ.get("PYTHONPATH")])))
    return importlib.import_module("masked_choice")


# --- the suite leaves the checkout as it found it ------------------------------------------------
# A run without run_dir= (or `maze train` without --run-dir) writes to ./outputs, which is the
# checkout when pytest runs there: such a test belongs in tmp_path (or the in_tmp_dir fixture).
# Reported, not failed: in a checkout shared with someone training by hand, their runs appear too.

CHECKOUT = Path(__file__).parents[1]
_BEFORE = pytest.StashKey[set]()


def _checkout_entries() -> set[str]:
    """The checkout's top-level entries and the run directories under its ``outputs/``."""
    entries = {path.name for path in CHECKOUT.iterdir()}
    return entries | {str(path.relative_to(CHECKOUT)) for path in CHECKOUT.glob("outputs/*/*")}


def pytest_sessionstart(session):
    session.config.stash[_BEFORE] = _checkout_entries()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    written = sorted(_checkout_entries() - config.stash.get(_BEFORE, set()))
    if written:
        terminalreporter.write_sep("=", "written into the checkout while the tests ran", yellow=True)
        for entry in written:
            terminalreporter.write_line(f"{entry}  (a test without tmp_path or run_dir?)")
