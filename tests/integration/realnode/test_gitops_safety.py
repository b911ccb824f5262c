"""GitOps safety as a real Argo CD with automated prune and self-heal shows it (issue 19), on the
session's real node: the operator's children sit in the Application's resource tree under the
TaskApi (by their ownerReferences) and over several reconciliations of Argo CD and the operator
are never pruned, never part of the Application, and never rewritten; a manual edit of the
TaskApi is reverted by self-heal, under annotation tracking (Argo CD 3's default) and label
tracking. (Deleting the ``taskapi-operator`` Application: test_gitops_delete.py.)"""

from __future__ import annotations

import json
import time

import pytest

from harness.argocd import DEMO_APP as DEMO
from harness.argocd import OPERATOR_APP, ArgoCD
from harness.real_stack import NAMESPACE, TASKAPI, RealStack, children
from harness.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.gitops]


def reconciled_at(argo: ArgoCD) -> str:
    return str(argo.application(DEMO).get("status", {}).get("reconciledAt", ""))


def wait_reconciliations(argo: ArgoCD, count: int) -> None:
    """``count`` more full reconciliations of the demo's Application by Argo CD."""
    for _ in range(count):
        last = reconciled_at(argo)
        argo.refresh(DEMO)
        eventually(lambda last=last: reconciled_at(argo) != last, 90, "an Argo CD reconciliation")


def check_children_untouched(real: RealStack, argo: ArgoCD, tracking: str) -> None:
    before = children(real)
    assert {"Deployment/taskapi-sample", "Service/taskapi-sample"} <= set(before), before
    began = time.monotonic()
    wait_reconciliations(argo, 3)
    time.sleep(12)  # over two resyncs of the operator (5 s) beside Argo CD's
    wait_reconciliations(argo, 1)
    app = argo.application(DEMO)["status"]
    managed = {(r["kind"], r["name"]) for r in app["resources"]}
    print(f"[{tracking}] after 4 Argo CD reconciliations in {time.monotonic() - began:.1f} s: "
          f"{argo.summary(DEMO)}; managed: {sorted(managed)}")  # fmt: skip
    assert app["sync"]["status"] == "Synced", app["sync"]
    assert app["health"]["status"] == "Healthy", app["health"]
    after = children(real)
    # no child is part of the Application (so it can neither be OutOfSync nor pruned)...
    leaked = {f"{kind}/{name}" for kind, name in managed} & (set(after) | set(before))
    assert not leaked, leaked
    # ...or rewritten
    changed = {k: (before[k], after.get(k)) for k in before if after.get(k) != before[k]}
    print(f"[{tracking}] children unchanged: {len(before) - len(changed)}/{len(before)}")
    assert not changed, changed
    # ...and Argo CD shows them in the tree, under the TaskApi
    tree = argo.resource_tree(DEMO)
    under = sorted(
        f"{node['kind']}/{node['name']}"
        for node in tree
        if any(
            p.get("kind") == "TaskApi" and p.get("name") == TASKAPI
            for p in node.get("parentRefs") or []
        )
    )
    print(f"[{tracking}] resource tree under TaskApi/{TASKAPI}: {under}")
    assert {"Deployment/taskapi-sample", "Service/taskapi-sample"} <= set(under), under


def check_self_heal(real: RealStack, argo: ArgoCD, tracking: str) -> None:
    want = real.cluster.get_json("taskapi", TASKAPI, "-n", NAMESPACE)["spec"]["replicas"]
    real.kubectl("patch", "taskapi", TASKAPI, "-n", NAMESPACE, "--type", "merge",
                 "-p", json.dumps({"spec": {"replicas": 1}}))  # fmt: skip
    began = time.monotonic()

    def healed() -> bool:
        spec = real.cluster.get_json("taskapi", TASKAPI, "-n", NAMESPACE)["spec"]
        return bool(spec["replicas"] == want)

    eventually(healed, 120, f"self-heal to replicas {want}", interval=0.5, explain=argo.explain)
    print(f"[{tracking}] manual edit replicas=1 reverted to {want} by self-heal in "
          f"{time.monotonic() - began:.1f} s")  # fmt: skip
    argo.wait_synced(DEMO)


def set_tracking(argo: ArgoCD, method: str) -> None:
    # the Applications re-sync to stamp their resources the new way; the children stay out
    argo.set_tracking(
        method,
        {
            DEMO: ("taskapi", TASKAPI, "-n", NAMESPACE),
            OPERATOR_APP: ("deployment", OPERATOR_APP, "-n", "taskapi-system"),
        },
    )


# annotation (Argo CD 3's default) first: switched back from label tracking, Argo CD 3.6 keeps
# treating label-stamped resources as the Application's without stamping them again, so there
# is no "annotation again" to wait for
@pytest.mark.parametrize("tracking", ["annotation", "label"])
def test_children_are_shown_never_managed_and_self_heal_reverts_edits(
    real: RealStack, argocd: ArgoCD, tracking: str
) -> None:
    set_tracking(argocd, tracking)
    check_children_untouched(real, argocd, tracking)
    check_self_heal(real, argocd, tracking)
    # children carry the TaskApi's own instance label, never the Application's
    labels = real.cluster.get_json("deployment", TASKAPI, "-n", NAMESPACE)["metadata"]["labels"]
    assert labels["app.kubernetes.io/instance"] == TASKAPI, labels
    annotations = real.cluster.get_json("service", TASKAPI, "-n", NAMESPACE)["metadata"]
    assert not any(
        k.startswith("argocd.argoproj.io/") for k in annotations.get("annotations") or {}
    )
