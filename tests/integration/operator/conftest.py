"""Fixtures of the operator's integration tests: the CRD and the operator as a process.

Two clusters from the shared harness: ``cluster`` has no Dapr (pods keep one container),
and ``dapr_control_plane.cluster`` runs Dapr's real sentry + sidecar injector (pods get
``daprd``). One operator process runs against each, each as its own client-certificate
user, so the apiserver's audit log attributes every write the operator makes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.dapr_control_plane import DaprControlPlane
from harness.kube import Cluster
from harness.operator_stack import CRD, RunningOperator, running_operator


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
