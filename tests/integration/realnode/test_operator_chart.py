"""The operator as its users run it (issue 18, item 1): installed on the real node by the
README's Install commands (restricted Pod Security enforced on its namespace, then
``helm upgrade --install ... --wait``), two pods of the operator image, in-cluster, as their
own ServiceAccount, one leader on the Lease, probed by the kubelet, ``/metrics`` reached
through its Service, ``kubectl logs`` as the troubleshooting page reads them. The session's
real node (conftest.py) is installed this way, so every checklist test also runs under it."""

from __future__ import annotations

import pytest

from harness import operator_chart
from harness.real_stack import RealStack

pytestmark = pytest.mark.integration
NS = operator_chart.NAMESPACE


def operator_pods(real: RealStack) -> list[dict]:
    return real.cluster.get_json("pods", "-n", NS, "-l", operator_chart.SELECTOR)["items"]


def test_two_operator_pods_run_under_the_restricted_standard(real: RealStack) -> None:
    namespace = real.cluster.get_json("namespace", NS)
    labels = namespace["metadata"]["labels"]
    assert labels.get("pod-security.kubernetes.io/enforce") == "restricted", labels
    pods = operator_pods(real)
    print(real.kubectl("get", "pods", "-n", NS, "-o", "wide").stdout)
    assert len(pods) == 2, [p["metadata"]["name"] for p in pods]
    for pod in pods:
        (container,) = pod["spec"]["containers"]
        assert container["image"] == "ghcr.io/example/taskapi-operator:0.1.0", container["image"]
        assert pod["spec"]["serviceAccountName"] == "taskapi-operator"
        context = {**pod["spec"].get("securityContext", {}), **container["securityContext"]}
        assert context["runAsNonRoot"] is True, context
        assert context["readOnlyRootFilesystem"] is True, context
        assert context["allowPrivilegeEscalation"] is False, context
        assert context["capabilities"]["drop"] == ["ALL"], context
        assert context["seccompProfile"]["type"] == "RuntimeDefault", context
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        (status,) = pod["status"]["containerStatuses"]
        assert status["ready"], status
        assert "running" in status["state"], status


def leader_gauge(metrics: str) -> float:
    line = next(x for x in metrics.splitlines() if x.startswith("taskapi_operator_leader "))
    return float(line.split()[1])


def test_one_replica_leads_on_the_lease_and_says_so_in_its_metrics(real: RealStack) -> None:
    lease = real.cluster.get_json("lease", "taskapi-operator", "-n", NS)
    holder = lease["spec"].get("holderIdentity")
    names = sorted(p["metadata"]["name"] for p in operator_pods(real))
    print(f"Lease taskapi-operator held by {holder} (pods {names})")
    assert holder in names, (holder, names)
    # each pod's /metrics on its metrics port, through the apiserver's pod proxy
    leading = {
        name: leader_gauge(
            real.kubectl(
                "get", "--raw", f"/api/v1/namespaces/{NS}/pods/{name}:8080/proxy/metrics"
            ).stdout
        )
        for name in names
    }
    print(f"taskapi_operator_leader by pod: {leading}")
    assert leading == {name: 1.0 if name == holder else 0.0 for name in names}


def test_logs_and_metrics_as_the_troubleshooting_page_reads_them(real: RealStack) -> None:
    out = real.kubectl("logs", "-n", NS, "deploy/taskapi-operator", "--tail=-1").stdout
    assert out.strip(), "no operator log through kubectl logs"
    print("\n".join(out.splitlines()[-5:]))
    # the Service in front of /metrics, as a scraper reaches it (through the apiserver here)
    path = f"/api/v1/namespaces/{NS}/services/taskapi-operator-metrics:http-metrics/proxy/metrics"
    metrics = real.kubectl("get", "--raw", path).stdout
    assert leader_gauge(metrics) in (0.0, 1.0), metrics[:2000]
    assert "taskapi_operator_queue_depth " in metrics, metrics[:2000]
