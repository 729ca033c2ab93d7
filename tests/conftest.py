"""Fixtures shared by the whole suite."""

import signal

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
