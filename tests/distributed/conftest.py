"""Ray tests: one 2-node Ray cluster for the whole session, in a network namespace of its own.

Ray binds the machine's primary network address unless it has none, and tests may only talk to
loopback. So before Ray starts, the pytest process moves itself into a new network namespace in
which only loopback is up: the ``unshare(CLONE_NEWNET)`` system call that ``unshare -n`` makes
(it needs root, as CI has). Ray started from there binds 127.0.0.1 only. The namespace is kept
for the rest of the session; the suite needs no network. Where that is not possible (not root),
the Ray tests are skipped with the reason; run them in a namespace made beforehand with
``unshare -rn sh -c 'ip link set lo up && .venv/bin/python -m pytest -m ray'``.

Every process the session starts is checked to be gone at the end (by process id; nothing is
ever looked up or killed by name, and ``ray stop`` is never run).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from maze_ray.testing import isolate_network
from processes import node_processes, wait_until_gone

#: CPUs of each of the two nodes; the tests' workers use one each
NODE_CPUS = 2


@pytest.fixture(scope="session")
def ray_session():
    """A private network namespace and Ray's environment: no auth, no usage statistics, a short
    per-session temp dir (Ray's socket paths must stay short). Yields the temp dir."""
    reason = isolate_network()
    if reason is not None:
        pytest.skip(f"Ray tests run in a private network namespace only: {reason}")
    temp_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    saved = {
        name: os.environ.get(name) for name in ("RAY_AUTH_MODE", "RAY_USAGE_STATS_ENABLED", "RAY_TMPDIR")
    }
    os.environ.update(RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0", RAY_TMPDIR=temp_dir)
    try:
        yield Path(temp_dir)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def ray_cluster(ray_session):
    """A head node and one more node (``NODE_CPUS`` CPUs each), this process connected as driver.
    At the end, every process the cluster ever started must be gone."""
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": NODE_CPUS, "include_dashboard": False, "object_store_memory": 10**8},
    )
    try:
        add_node(cluster)
        ray.init(address=cluster.address, log_to_driver=False, logging_level="WARNING")
        yield cluster
    finally:
        started = node_processes(cluster.head_node, *cluster.worker_nodes)
        ray.shutdown()
        cluster.shutdown()
    left = wait_until_gone(started)
    assert not left, f"Ray processes left after the session: {sorted(left)}"


def add_node(cluster):
    node = cluster.add_node(num_cpus=NODE_CPUS, object_store_memory=10**8)
    cluster.wait_for_nodes()
    return node


@pytest.fixture
def two_nodes(ray_cluster):
    """The session cluster, with a second node again if an earlier test removed it."""
    if not ray_cluster.worker_nodes:
        add_node(ray_cluster)
    return ray_cluster
