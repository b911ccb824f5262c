"""Fixtures for the operator's integration tests: CRD, injector stand-in, operator process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from dapr_injector import sidecar_injector
from operator_it import CRD, RESYNC_SECONDS, RunningOperator, live, wait_for

from harness.kube import Cluster
from harness.ports import LOOPBACK, free_port

OPERATOR_USER = "taskapi-operator-under-test"


@pytest.fixture(scope="session")
def taskapi_crd(cluster: Cluster) -> Path:
    cluster.install_crds([CRD])
    return CRD


@pytest.fixture(scope="session")
def dapr_injector(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with sidecar_injector(cluster, tmp_path_factory.mktemp("injector")):
        yield


@pytest.fixture(scope="session")
def taskapi_operator(
    cluster: Cluster,
    taskapi_crd: Path,
    dapr_injector: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningOperator]:
    """The operator as its image runs it (``python -m taskapi_operator``), as its own user,
    so the apiserver's audit log attributes every write it makes."""
    workdir = tmp_path_factory.mktemp("operator")
    kubeconfig = cluster.user_kubeconfig(OPERATOR_USER, ["system:masters"])
    probe_port, liveness_port = free_port(), free_port()
    liveness = f"http://{LOOPBACK}:{liveness_port}/healthz"
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "TASKAPI_OPERATOR_LIVENESS_ENDPOINT": liveness,
        "TASKAPI_OPERATOR_PROBE_PORT": str(probe_port),
        "TASKAPI_OPERATOR_PROBE_TIMEOUT_SECONDS": "1",
        "TASKAPI_OPERATOR_RESYNC_INTERVAL_SECONDS": str(RESYNC_SECONDS),
        "TASKAPI_OPERATOR_REQUEST_TIMEOUT_SECONDS": "15",
        "NO_PROXY": "*",
    }
    log = workdir / "operator.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "taskapi_operator"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = RunningOperator(OPERATOR_USER, probe_port, liveness, log, process)
    try:
        wait_for(lambda: live(liveness), 60, "operator liveness endpoint", running)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
