"""Shared fixtures: real components started once per session, on loopback only."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import binaries
from harness.dapr import write_configuration
from harness.dapr_control_plane import DaprControlPlane
from harness.kube import Cluster
from harness.postgres import PostgresServer
from harness.redis import RedisServer

_workdirs: list[Path] = []


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """etcd + kube-apiserver + controller-manager + scheduler + kwok with one fake node,
    with Dapr's CRDs installed (as Dapr's Helm chart would in a real cluster)."""
    workdir = tmp_path_factory.mktemp("cluster")
    _workdirs.append(workdir)
    with Cluster(workdir) as running:
        running.install_crds(binaries.dapr_crds())
        yield running


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    """A fresh namespace per test; deleted (without waiting) afterwards."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def dapr_control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaprControlPlane]:
    """A second cluster where Dapr is installed: Dapr's sentry and sidecar injector run as
    processes, so pods annotated ``dapr.io/enabled`` get the real ``daprd`` container.

    ``.cluster`` is that cluster (its apiserver dials webhooks through EndpointSlices and
    runs the ServiceAccount admission plugin, see harness.dapr_control_plane); ``.namespace``
    is ``dapr-system``. The plain ``cluster`` fixture stays the "Dapr not installed" cluster.
    Starts in about 7 s.
    """
    workdir = tmp_path_factory.mktemp("dapr-cluster")
    _workdirs.append(workdir)
    with (
        Cluster(workdir, DaprControlPlane.CLUSTER_OPTIONS) as running,
        DaprControlPlane(running, workdir / "dapr-control-plane") as control_plane,
    ):
        yield control_plane


@pytest.fixture
def dapr_namespace(dapr_control_plane: DaprControlPlane) -> Iterator[str]:
    """A fresh namespace in the Dapr-enabled cluster; deleted (without waiting) afterwards."""
    cluster = dapr_control_plane.cluster
    name = f"t-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    cluster.wait_for_default_serviceaccount(name, 30)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    workdir = tmp_path_factory.mktemp("redis")
    _workdirs.append(workdir)
    with RedisServer(workdir) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session (Debian's package, loopback, trust auth).

    Stacks sharing it keep apart with their own database (``create_database``) or table
    (``statestore_component(table=...)``); ``write_statestore`` writes the Dapr Component.
    """
    workdir = tmp_path_factory.mktemp("postgres")
    _workdirs.append(workdir)
    with PostgresServer(workdir) as server:
        yield server


@pytest.fixture(scope="session")
def dapr_configuration(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Configuration every local sidecar shares (SQLite name resolution)."""
    workdir = tmp_path_factory.mktemp("dapr")
    return write_configuration(workdir / "config.yaml", workdir / "names.db")


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    if exitstatus != 0 and _workdirs:
        terminalreporter.write_line("component logs (kept by pytest's tmp_path retention):")
        for workdir in _workdirs:
            terminalreporter.write_line(f"  {workdir}")
