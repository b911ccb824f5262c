"""Shared fixtures: real components started once per session, on loopback only."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import binaries
from harness.dapr import write_configuration
from harness.kube import Cluster
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
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    workdir = tmp_path_factory.mktemp("redis")
    _workdirs.append(workdir)
    with RedisServer(workdir) as server:
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
