"""Fixtures of the operator's integration tests: the CRD and the operator as a process.

Two clusters from the shared harness: ``cluster`` has no Dapr (pods keep one container),
and ``dapr_control_plane.cluster`` runs Dapr's real sentry + sidecar injector (pods get
``daprd``). One operator process runs against each, each as its own client-certificate
user, so the apiserver's audit log attributes every write the operator makes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from operator_it import CRD, RESYNC_SECONDS, RunningOperator, live, wait_for

from harness.dapr_control_plane import DaprControlPlane
from harness.kube import Cluster
from harness.ports import LOOPBACK, free_port

OPERATOR_USER = "taskapi-operator-under-test"


@contextmanager
def running_operator(cluster: Cluster, workdir: Path) -> Iterator[RunningOperator]:
    """``python -m taskapi_operator``, as the image runs it, pointed at ``cluster``."""
    cluster.install_crds([CRD])
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
    running = RunningOperator(cluster, OPERATOR_USER, probe_port, liveness, log, process)
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


@pytest.fixture(scope="session")
def taskapi_crd(cluster: Cluster) -> Path:
    cluster.install_crds([CRD])
    return CRD


@pytest.fixture(scope="session")
def taskapi_operator(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningOperator]:
    """The operator on the cluster without Dapr."""
    with running_operator(cluster, tmp_path_factory.mktemp("operator")) as running:
        yield running


@pytest.fixture(scope="session")
def dapr_taskapi_operator(
    dapr_control_plane: DaprControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningOperator]:
    """The operator on the cluster where Dapr's injector adds the daprd sidecar."""
    workdir = tmp_path_factory.mktemp("dapr-operator")
    with running_operator(dapr_control_plane.cluster, workdir) as running:
        yield running
