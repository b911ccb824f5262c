"""One real node per session for every test in this directory: the stack (cluster, node, Dapr
from its chart, the operator from its chart as the README installs it, Redis, the sample) takes
minutes to start. The tests read it, or change it and put it back; the teardown check stops
it. The order is set here, not by file names."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import documented, node, operator_chart
from harness.argocd import ArgoCD, readme_install
from harness.real_stack import TASKAPI, RealStack
from harness.repo import REPO

INSTALL = REPO / "docs" / "install.md"

# Read-only tests first, then those that change the node and put it back, then the uninstall
# of the operator and the sample (ending with the kustomize install), then Argo CD taking that
# install over (tests/integration/realnode/test_gitops_*.py, deleting the operator's Application
# last), then the teardown.
ORDER = {
    "changes_the_real_node": "changes the real node, then restores it",
    "removes_the_operator": "uninstalls the operator and removes the sample",
    "gitops": "hands the kustomize-installed operator and sample to Argo CD",
    "deletes_the_operator_application": "deletes Application taskapi-operator, re-applies it",
    "stops_the_real_node": "stops the session's real node",
}


def pytest_configure(config: pytest.Config) -> None:
    for mark, what in ORDER.items():
        config.addinivalue_line("markers", f"{mark}: {what}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order this directory's tests in place (the hook sees the whole session's items: the
    others keep their places)."""
    here = Path(__file__).parent

    def rank(item: pytest.Item) -> int:
        ranks = [list(ORDER).index(m.name) + 1 for m in item.iter_markers() if m.name in ORDER]
        return max(ranks, default=0)

    slots = [i for i, item in enumerate(items) if here in item.path.parents]
    ordered = sorted((items[i] for i in slots), key=rank)
    for slot, item in zip(slots, ordered, strict=True):
        items[slot] = item


@pytest.fixture(scope="session")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealStack]:
    # Where the machine cannot run the node the test fails with the reason, never skips: a
    # missing node is a defect on this project's machines.
    reason = node.unavailable_reason()
    assert not reason, f"the real node cannot run on this machine: {reason}"
    stack = RealStack(tmp_path_factory.mktemp("real-node"), operator_from_chart=True)
    stack.start(say=lambda message: print(f"==> {message}", flush=True))
    print("phases (s): " + ", ".join(f"{k} {v:.1f}" for k, v in stack.phases.items()))
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def argocd(real: RealStack) -> ArgoCD:
    """A real Argo CD (application-controller, repo-server, redis) beside the session's node,
    with a ``file://`` git repository of the checkout's deploy/, to which docs/gitops.md's
    Install has handed the operator and the sample; it stops with the stack.

    In a whole run the uninstall tests leave docs/install.md's kustomize install, which Argo CD
    adopts; run alone, the chart's release is uninstalled and that install made first."""
    # helm keeps a release as Secrets sh.helm.release.v1.<release>.v<N> in its namespace
    found = real.cluster.kubectl("get", "secrets", "-n", operator_chart.NAMESPACE, "-o", "name")
    if f"sh.helm.release.v1.{operator_chart.RELEASE}." in found.stdout:
        documented.run(real.cluster, documented.bash_block(INSTALL, "## Uninstall", 0)[0])
        for argv in documented.bash_block(INSTALL, "## Or with kustomize"):
            documented.run(real.cluster, argv)
    began = time.monotonic()
    argo = ArgoCD(real.cluster, real.workdir / "argocd")
    real.on_stop(argo.stop)
    argo.start()
    print(f"==> Argo CD {argo.version()} started in {time.monotonic() - began:.1f} s")
    argo.install_health, argo.install_seconds = readme_install(argo, TASKAPI)
    print(
        f"==> docs/gitops.md Install: both Applications Synced and Healthy in "
        f"{argo.install_seconds:.1f} s; TaskApi health meanwhile: {argo.install_health}"
    )
    return argo
