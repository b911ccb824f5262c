"""Deleting the ``taskapi-operator`` Application, as a real Argo CD does it (issue 19), on the
session's real node, last of the GitOps tests: under annotation tracking (Argo CD 3's default),
after a full sync (the operation ``argocd app sync`` makes) has stamped every resource of the
Application, ``kubectl delete application`` lets Argo CD's resources finalizer delete what the
Application manages: the operator goes, the CRD stays (Argo CD never deletes CRDs on an
Application's deletion, and the CRD says ``Delete=false`` besides), and so do the TaskApis,
their children untouched and still serving. Then docs/gitops.md's Install applied again brings
the operator back, which takes the TaskApi over without recreating its children."""

from __future__ import annotations

import time

import pytest

from harness import documented, operator_chart
from harness.argocd import GITOPS_DOC, OPERATOR_APP, ArgoCD, tracked_by
from harness.argocd import NAMESPACE as ARGOCD_NS
from harness.kube import KubectlError
from harness.real_stack import NAMESPACE, TASKAPI, RealStack, children, pod_uids
from harness.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.deletes_the_operator_application]
CRD = "taskapis.taskapi.io"
OPS = operator_chart.NAMESPACE


def managed(argo: ArgoCD) -> list[dict[str, str]]:
    """The Application's resources as it lists them (what git holds)."""
    return list(argo.application(OPERATOR_APP)["status"]["resources"])


def live(real: RealStack, entry: dict[str, str]) -> dict | None:
    group = entry.get("group", "")
    kind = f"{entry['kind'].lower()}.{group}" if group else entry["kind"].lower()
    where = ["-n", entry["namespace"]] if entry.get("namespace") else []
    try:
        found: dict = real.cluster.get_json(kind, entry["name"], *where)
    except KubectlError:
        return None
    return found if not found["metadata"].get("deletionTimestamp") else None


def test_deleting_the_operator_application_keeps_the_crd_and_the_taskapis(
    real: RealStack, argocd: ArgoCD
) -> None:
    # back to annotation tracking (the safety tests end under label tracking); a switch back
    # does not re-stamp anything by itself, a full sync does
    argocd.set_tracking("annotation", {})
    argocd.sync(OPERATOR_APP)
    resources = managed(argocd)
    names = sorted(f"{r['kind']}/{r['name']}" for r in resources)
    print(f"the Application's resources ({len(resources)}): {names}")
    # Argo CD stamps every resource but CRDs (it tracks those by what git holds alone)
    stamps = {f"{r['kind']}/{r['name']}": tracked_by(live(real, r) or {"metadata": {}},
                                                     "annotation") for r in resources}  # fmt: skip
    print(f"stamped with {OPERATOR_APP}'s tracking-id: "
          f"{sum(app == OPERATOR_APP for app in stamps.values())}; not: "
          f"{sorted(k for k, app in stamps.items() if app != OPERATOR_APP)}")  # fmt: skip
    untracked = [k for k, app in stamps.items() if app != OPERATOR_APP]
    assert untracked == [f"CustomResourceDefinition/{CRD}"], untracked
    taskapi_uid = real.cluster.get_json("taskapi", TASKAPI, "-n", NAMESPACE)["metadata"]["uid"]
    before, pods = children(real), pod_uids(real, running=True)

    began = time.monotonic()
    # kubectl waits for the object to be gone: for Argo CD's resources finalizer to finish
    real.kubectl("delete", "application", OPERATOR_APP, "-n", ARGOCD_NS, "--timeout=240s",
                 timeout=260)  # fmt: skip
    took = time.monotonic() - began
    log = [line for line in argocd.controller_log().splitlines()
           if OPERATOR_APP in line and ("deleted" in line or "remaining" in line)]  # fmt: skip
    print(f"kubectl delete application {OPERATOR_APP}: gone in {took:.1f} s; Argo CD said:")
    print("\n".join(line[-160:] for line in log[-4:]))

    kept = sorted(f"{r['kind']}/{r['name']}" for r in resources if live(real, r) is not None)
    print(f"still there: {kept}")
    assert kept == [f"CustomResourceDefinition/{CRD}"], kept
    found = real.cluster.get_json("taskapi", TASKAPI, "-n", NAMESPACE)
    assert found["metadata"]["uid"] == taskapi_uid
    replicas = found["spec"]["replicas"]  # what git says (test_gitops_health committed 3)
    after = children(real)
    changed = {k: (before[k], after.get(k)) for k in before if after.get(k) != before[k]}
    print(f"the TaskApi and its children unchanged: {len(before) - len(changed)}/{len(before)}; "
          f"its pods still running: {len(pod_uids(real, running=True))}/{len(pods)}")  # fmt: skip
    assert not changed, changed
    assert pod_uids(real, running=True) == pods

    # docs/gitops.md's Install again: Argo CD syncs the operator back, and the operator takes
    # the TaskApi over as it is
    began = time.monotonic()
    for argv in documented.bash_block(GITOPS_DOC, "## Install"):
        documented.run(real.cluster, argv, cwd=argocd.repo.path)
    argocd.wait_synced(OPERATOR_APP, argocd.repo.head)
    eventually(lambda: operator_chart.leader_passes(real.cluster) > 0, 180,
               "a reconcile pass by the returned operator's leader",
               tolerate=(KubectlError,))  # fmt: skip
    real.wait_ready(replicas=replicas)
    print(
        f"re-applied: the operator back and the TaskApi Ready in {time.monotonic() - began:.1f} s"
    )
    again = children(real)
    changed = {k: (before[k], again.get(k)) for k in before if again.get(k) != before[k]}
    print(f"children unchanged after the operator's return: {len(before) - len(changed)}")
    assert not changed, changed
