"""docs/install.md's Upgrade and Uninstall, run as written on the session's real node (issue 18,
item 2): the CRD first, then ``helm upgrade`` to a new operator image tag with the TaskApi Ready
throughout and no child recreated or rewritten; then ``helm uninstall`` leaving the CRD, the
TaskApi and its running children, and the deliberate full removal after it."""

from __future__ import annotations

import time

import pytest

from harness import documented, operator_chart
from harness.kube import KubectlError
from harness.real_stack import (
    NAMESPACE,
    TASKAPI,
    TASKAPI_SELECTOR,
    RealStack,
    StatusWatch,
    children,
    pod_uids,
)
from harness.repo import REPO
from harness.waiting import eventually

pytestmark = pytest.mark.integration
INSTALL = REPO / "docs" / "install.md"
OPS = operator_chart.NAMESPACE
IMAGE = "ghcr.io/example/taskapi-operator"


def operator_images(real: RealStack) -> list[str]:
    pods = real.cluster.get_json("pods", "-n", OPS, "-l", operator_chart.SELECTOR)["items"]
    return sorted(
        p["spec"]["containers"][0]["image"]
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
    )


@pytest.mark.changes_the_real_node
def test_upgrade_as_documented_keeps_the_taskapi_ready_and_its_children(real: RealStack) -> None:
    assert real.cluster.node is not None
    real.cluster.node.ctr("images", "tag", f"{IMAGE}:0.1.0", f"{IMAGE}:0.1.1")  # the "new" tag
    before, pods = children(real), pod_uids(real)
    assert {"Deployment/taskapi-sample", "Service/taskapi-sample"} <= set(before), before
    watch = StatusWatch(real)
    began = time.monotonic()
    try:
        for argv in documented.bash_block(INSTALL, "## Upgrade"):
            extra = ["--set", "image.tag=0.1.1"] if argv[0] == "helm" else []
            documented.run(real.cluster, argv, *extra)
        assert operator_images(real) == [f"{IMAGE}:0.1.1"] * 2, operator_images(real)
        # the new leader has reconciled the TaskApi (its own resync comes within seconds)
        eventually(lambda: operator_chart.leader_passes(real.cluster) > 0, 120,
                   "a reconcile pass by the new leader", tolerate=(KubectlError,))  # fmt: skip
        print(f"upgraded to {IMAGE}:0.1.1 in {time.monotonic() - began:.1f} s")
        time.sleep(5)  # a few more passes: any write they would make has happened by now
    finally:
        watch.close()
    print("TaskApi (ready, reason) during the upgrade: " + " -> ".join(watch.seen))
    assert watch.seen == ["2/2 Ready"], watch.seen
    after = children(real)
    changed = {k: (before[k], after.get(k)) for k in before if after.get(k) != before[k]}
    print(f"children unchanged: {len(before) - len(changed)}/{len(before)}")
    assert not changed, changed
    assert pod_uids(real) == pods


@pytest.mark.removes_the_operator
def test_uninstall_as_documented_leaves_what_runs_for_users(real: RealStack) -> None:
    before, pods = children(real), pod_uids(real)
    (uninstall,) = documented.bash_block(INSTALL, "## Uninstall", 0)
    documented.run(real.cluster, uninstall)
    eventually(lambda: operator_images(real) == [], 120, "the operator's pods gone")
    real.kubectl("get", "crd", "taskapis.taskapi.io")
    real.kubectl("get", "taskapi", TASKAPI, "-n", NAMESPACE)
    assert children(real).keys() == before.keys()
    assert pod_uids(real) == pods
    out = real.kubectl("get", "pods", "-n", NAMESPACE, "-l", TASKAPI_SELECTOR).stdout
    print(f"after helm uninstall, unmanaged and still serving:\n{out}")
    assert [row.split()[1:3] for row in out.splitlines()[1:]] == [["2/2", "Running"]] * 2, out

    # the deliberate full removal: TaskApis (children by garbage collection), CRD, namespace
    for argv in documented.bash_block(INSTALL, "## Uninstall", 1):
        documented.run(real.cluster, argv, timeout=180)

    def removed() -> bool:
        left = real.kubectl("get", "deployments,services", "-n", NAMESPACE, "-o", "name").stdout
        namespaces = real.kubectl("get", "namespaces", "-o", "name").stdout.split()
        return TASKAPI not in left and f"namespace/{OPS}" not in namespaces

    eventually(removed, 180, "the TaskApi's children collected and taskapi-system gone")
    crds = real.kubectl("get", "crds", "-o", "name").stdout
    assert "taskapis.taskapi.io" not in crds, crds


@pytest.mark.removes_the_operator
def test_the_kustomize_install_as_documented_runs_the_sample_again(real: RealStack) -> None:
    """After the full removal: docs/install.md's "Or with kustomize" (the CRD, the Namespace
    with restricted enforced, the operator), then "Then the sample" again, to Ready."""
    began = time.monotonic()
    for argv in documented.bash_block(INSTALL, "## Or with kustomize"):
        documented.run(real.cluster, argv)
    for argv in documented.bash_block(INSTALL, "## Then the sample"):
        documented.run(real.cluster, argv, timeout=200)
    real.wait_ready(replicas=2)
    print(f"kubectl apply -k deploy/default to the sample Ready: {time.monotonic() - began:.1f} s")
    labels = real.cluster.get_json("namespace", OPS)["metadata"]["labels"]
    assert labels.get("pod-security.kubernetes.io/enforce") == "restricted", labels
    assert operator_images(real) == [f"{IMAGE}:0.1.0"] * 2, operator_images(real)
    holder = real.cluster.get_json("lease", "taskapi-operator", "-n", OPS)["spec"]
    assert holder.get("holderIdentity"), holder
