"""The Helm chart (deploy/helm/taskapi-operator) with a real helm binary: it lints, its defaults
render what ``kubectl kustomize deploy/default`` renders, its values reach the operator's
settings, its schema refuses bad values, and a real ``helm install`` into the harness apiserver
gives an operator that reconciles a TaskApi under the chart's ServiceAccount and RBAC."""

from __future__ import annotations

import copy
import difflib
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import binaries
from harness.kube import Cluster, ClusterOptions
from harness.ports import LOOPBACK, free_port
from harness.process import terminate
from harness.waiting import eventually

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "deploy" / "helm" / "taskapi-operator"
SAMPLE = REPO / "deploy" / "samples" / "taskapi.yaml"
RELEASE, NAMESPACE = "taskapi-operator", "taskapi-system"
# Labels Helm charts conventionally add to every object; deploy/operator does not carry them.
HELM_LABELS = {
    "helm.sh/chart",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
}


def objects(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def key(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"


class Helm:
    """The real helm, with its config/cache/data kept in a temp dir."""

    def __init__(self, binary: Path, home: Path) -> None:
        self.binary = binary
        self.env = {
            **os.environ,
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_DATA_HOME": str(home / "data"),
        }

    def run(
        self, *args: str, kubeconfig: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, **({"KUBECONFIG": str(kubeconfig)} if kubeconfig else {})}
        result = subprocess.run(
            [str(self.binary), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if check:
            assert result.returncode == 0, f"helm {' '.join(args)}:\n{result.stderr}"
        return result

    def template(self, *values: str) -> list[dict[str, Any]]:
        out = self.run("template", RELEASE, str(CHART), "-n", NAMESPACE, "--include-crds", *values)
        return objects(out.stdout)


@pytest.fixture(scope="module")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(binaries.find("helm"), tmp_path_factory.mktemp("helm"))


def test_helm_is_the_pinned_version(helm: Helm) -> None:
    assert helm.run("version", "--short").stdout.startswith("v3.22.0")


def test_chart_lints(helm: Helm) -> None:
    result = helm.run("lint", "--strict", str(CHART))
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout, result.stdout


def test_chart_packages_with_its_crd(helm: Helm, tmp_path: Path) -> None:
    """What a chart repository would serve: the CRD travels inside the package."""
    helm.run("package", str(CHART), "--destination", str(tmp_path))
    (package,) = tmp_path.glob("taskapi-operator-*.tgz")
    assert package.name == "taskapi-operator-0.1.0.tgz"
    with tarfile.open(package) as tar:
        member = tar.extractfile("taskapi-operator/crds/taskapi.yaml")
        assert member is not None
        assert member.read() == (REPO / "crds" / "taskapi.yaml").read_bytes()
        assert "taskapi-operator/values.schema.json" in tar.getnames()


# -- defaults equal deploy/default ---------------------------------------------------------


def normalized(obj: dict[str, Any]) -> dict[str, Any]:
    """Without Helm's release labels, which are all the two may differ in."""
    obj = copy.deepcopy(obj)
    obj["metadata"].pop("labels", None)
    template = obj.get("spec", {}).get("template", {})
    for label in HELM_LABELS:
        template.get("metadata", {}).get("labels", {}).pop(label, None)
    for container in template.get("spec", {}).get("containers", []):
        container["env"] = sorted(container.get("env") or [], key=lambda e: e["name"])
    return obj


def test_default_values_render_deploy_default(helm: Helm) -> None:
    """The drift alarm: a change to deploy/ (or the chart) that the other lacks fails here,
    naming the object. Only the Namespace is not the chart's (``--create-namespace``)."""
    kustomized = subprocess.run(
        ["kubectl", "kustomize", str(REPO / "deploy" / "default")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    expected = {key(o): o for o in objects(kustomized) if o["kind"] != "Namespace"}
    rendered = {key(o): o for o in helm.template()}
    assert sorted(rendered) == sorted(expected)
    for name, want in expected.items():
        got = rendered[name]
        missing = set((want["metadata"].get("labels") or {}).items()) - set(
            (got["metadata"].get("labels") or {}).items()
        )
        assert not missing, f"{name}: the chart lacks labels {missing}"
        if normalized(got) != normalized(want):
            diff = difflib.unified_diff(
                yaml.safe_dump(normalized(want)).splitlines(),
                yaml.safe_dump(normalized(got)).splitlines(),
                "kubectl kustomize deploy/default",
                "helm template (default values)",
                lineterm="",
            )
            pytest.fail(f"{name} drifted:\n" + "\n".join(diff))


# -- values reach the operator ------------------------------------------------------------

VALUES = {
    "image": {
        "repository": "registry.example/ops/taskapi-operator",
        "tag": "9.9.9",
        "pullPolicy": "Always",
    },
    "imagePullSecrets": [{"name": "pull-secret"}],
    "replicaCount": 2,
    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
    "watchNamespaces": ["team-a", "team-b"],
    "logFormat": "json",
    "leaderElection": {"enabled": True, "podIdentity": True},
    "metrics": {"port": 9090, "portName": "http-metrics", "service": {"enabled": True}},
    "health": {"port": 8081},
    "probes": {"port": "http-metrics", "livenessPath": "/livez", "readinessPath": "/readyz"},
    "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
    "resources": {
        "requests": {"cpu": "100m", "memory": "200Mi"},
        "limits": {"cpu": "1", "memory": "400Mi"},
    },
    "extraEnv": [{"name": "TASKAPI_OPERATOR_RESYNC_INTERVAL_SECONDS", "value": "60"}],
    "apiRateLimit": {"qps": 42.5, "burst": 85},
    "apiConnections": 12,
    "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"}},
    "podAnnotations": {"prometheus.io/scrape": "true"},
    "podLabels": {"team": "platform"},
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [
        {"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}
    ],
    # null drops a default's key (Helm merges maps): e.g. a default podAntiAffinity
    "affinity": {
        "podAntiAffinity": None,
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}
                        ]
                    }
                ]
            }
        },
    },
    "priorityClassName": "system-cluster-critical",
}


@pytest.fixture(scope="module")
def custom(helm: Helm, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    values = tmp_path_factory.mktemp("values") / "values.yaml"
    values.write_text(yaml.safe_dump(VALUES))
    lint = helm.run("lint", "--strict", str(CHART), "-f", str(values))
    assert "0 chart(s) failed" in lint.stdout, lint.stdout
    return {o["kind"]: o for o in helm.template("-f", str(values))}


def test_non_default_values_shape_the_deployment(custom: dict[str, dict[str, Any]]) -> None:
    deployment = custom["Deployment"]
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"] == VALUES["strategy"]
    assert container["image"] == "registry.example/ops/taskapi-operator:9.9.9"
    assert container["imagePullPolicy"] == "Always"
    assert container["resources"] == VALUES["resources"]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {
        "health": 8081,
        "http-metrics": 9090,
    }
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http-metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http-metrics"}
    identity = {e["name"]: e.get("valueFrom") for e in container["env"] if "valueFrom" in e}
    assert identity == {
        "TASKAPI_OPERATOR_IDENTITY": {"fieldRef": {"fieldPath": "metadata.name"}},
        "TASKAPI_OPERATOR_LEASE_NAMESPACE": {"fieldRef": {"fieldPath": "metadata.namespace"}},
    }
    assert pod["spec"]["imagePullSecrets"] == [{"name": "pull-secret"}]
    for field in ("nodeSelector", "tolerations", "priorityClassName"):
        assert pod["spec"][field] == VALUES[field], field
    affinity = {k: v for k, v in pod["spec"]["affinity"].items() if v is not None}
    assert affinity == {"nodeAffinity": VALUES["affinity"]["nodeAffinity"]}
    assert pod["metadata"]["annotations"] == VALUES["podAnnotations"]
    assert pod["metadata"]["labels"]["team"] == "platform"
    # the selector stays deploy/operator's, so podLabels never orphan the old ReplicaSet
    assert deployment["spec"]["selector"] == {
        "matchLabels": {"app.kubernetes.io/name": "taskapi-operator"}
    }
    assert (
        custom["ServiceAccount"]["metadata"]["annotations"]
        == VALUES["serviceAccount"]["annotations"]
    )


def test_pdb_and_metrics_service_select_the_operator(custom: dict[str, dict[str, Any]]) -> None:
    selector = {"app.kubernetes.io/name": "taskapi-operator"}
    pdb, service = custom["PodDisruptionBudget"], custom["Service"]
    assert pdb["spec"] == {"minAvailable": 1, "selector": {"matchLabels": selector}}
    assert service["metadata"]["labels"]["app.kubernetes.io/component"] == "metrics"
    assert service["spec"] == {
        "selector": selector,
        "ports": [{"name": "http-metrics", "port": 9090, "targetPort": "http-metrics"}],
    }


def test_values_reach_operator_settings(custom: dict[str, dict[str, Any]]) -> None:
    """The rendered env, read by the operator's own settings object in a fresh process."""
    (container,) = custom["Deployment"]["spec"]["template"]["spec"]["containers"]
    # what the kubelet resolves from the downward API, as it would in the pod
    downward = {"metadata.name": "taskapi-operator-0", "metadata.namespace": NAMESPACE}
    env = {
        e["name"]: e["value"] if "value" in e else downward[e["valueFrom"]["fieldRef"]["fieldPath"]]
        for e in container["env"]
    }
    assert env["TASKAPI_OPERATOR_LOG_FORMAT"] == "json"
    assert env["TASKAPI_OPERATOR_LEADER_ELECTION"] == "true"
    assert env["TASKAPI_OPERATOR_METRICS_PORT"] == "9090"
    script = (
        "import json; from taskapi_operator.settings import OperatorSettings as S; "
        "print(json.dumps([S().model_dump(mode='json'), sorted(S.model_fields)]))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TASKAPI_OPERATOR_")}
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    settings, fields = json.loads(result.stdout)
    assert settings["namespaces"] == ["team-a", "team-b"]
    assert settings["liveness_endpoint"] == "http://0.0.0.0:8081/healthz"
    assert settings["resync_interval_seconds"] == 60
    assert (settings["api_qps"], settings["api_burst"]) == (42.5, 85)
    assert settings["api_connections"] == 12
    rendered_fields = {n.removeprefix("TASKAPI_OPERATOR_").lower() for n in env}
    # every variable the chart renders is one the operator reads
    assert rendered_fields <= set(fields), rendered_fields - set(fields)


@pytest.mark.parametrize(
    "bad",
    [
        ["--set", "logFormat=xml"],
        ["--set", "replicaCount=-1"],
        ["--set", "watchNamespaces[0]=Not_A_Namespace"],
        ["--set", "image.pullPolicy=Sometimes"],
        ["--set", "unknownValue=1"],
        ["--set", "apiRateLimit.burst=0"],
        ["--set", "apiConnections=0"],
    ],
    ids=[
        "logFormat",
        "replicaCount",
        "watchNamespaces",
        "pullPolicy",
        "unknown",
        "burst",
        "connections",
    ],
)
def test_schema_refuses_bad_values(helm: Helm, bad: list[str]) -> None:
    result = helm.run("template", RELEASE, str(CHART), *bad, check=False)
    assert result.returncode != 0, result.stdout[:500]
    assert "values don't meet the specifications of the schema" in result.stderr, result.stderr


# -- a real install on the harness apiserver ------------------------------------------------


@pytest.fixture(scope="module")
def chart_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A cluster of its own: the chart's cluster-wide objects (CRD, ClusterRoles) must not be
    there already without Helm's ownership, as other tests' kubectl applies leave them."""
    workdir = tmp_path_factory.mktemp("helm-cluster")
    with Cluster(workdir, ClusterOptions(workloads=False)) as cluster:
        cluster.install_crds(binaries.dapr_crds())
        yield cluster


def test_rendered_chart_passes_server_side_dry_run(helm: Helm, chart_cluster: Cluster) -> None:
    rendered = helm.template()
    chart_cluster.kubectl("create", "namespace", "dry-run-only")
    manifest = "\n---\n".join(
        yaml.safe_dump(
            {**o, "metadata": {**o["metadata"], "namespace": "dry-run-only"}}
            if o["metadata"].get("namespace")
            else o
        )
        for o in rendered
    )
    result = chart_cluster.kubectl(
        "apply", "--server-side", "--dry-run=server", "-f", "-", input=manifest, check=False
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == len(rendered), result.stdout


@pytest.fixture(scope="module")
def installed(helm: Helm, chart_cluster: Cluster) -> Cluster:
    helm.run(
        "install",
        RELEASE,
        str(CHART),
        "-n",
        NAMESPACE,
        "--create-namespace",
        kubeconfig=chart_cluster.kubeconfig,
    )
    return chart_cluster


def test_install_creates_a_deployed_release(helm: Helm, installed: Cluster) -> None:
    releases = json.loads(
        helm.run("list", "-n", NAMESPACE, "-o", "json", kubeconfig=installed.kubeconfig).stdout
    )
    assert [(r["name"], r["status"], r["chart"]) for r in releases] == [
        (RELEASE, "deployed", "taskapi-operator-0.1.0")
    ]
    deployment = installed.get_json("deployment", "taskapi-operator", "-n", NAMESPACE)
    assert deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    crd = installed.get_json("crd", "taskapis.taskapi.io")
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_operator_runs_from_the_installed_chart(
    helm: Helm, installed: Cluster, tmp_path: Path
) -> None:
    """The operator process, with the Deployment's env and the chart's ServiceAccount token,
    reconciles a TaskApi; uninstalling the release keeps the CRD and the TaskApi."""
    cluster = installed
    (container,) = cluster.get_json("deployment", "taskapi-operator", "-n", NAMESPACE)["spec"][
        "template"
    ]["spec"]["containers"]
    liveness = f"http://{LOOPBACK}:{free_port()}/healthz"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TASKAPI_OPERATOR_")},
        **{e["name"]: e["value"] for e in container.get("env") or [] if "value" in e},
        # loopback instead of the pod's 0.0.0.0 (liveness and, once the operator has them, the
        # metrics/health server), and a short resync for the test
        "TASKAPI_OPERATOR_LIVENESS_ENDPOINT": liveness,
        "TASKAPI_OPERATOR_METRICS_HOST": LOOPBACK,
        "TASKAPI_OPERATOR_METRICS_PORT": str(free_port()),
        "TASKAPI_OPERATOR_RESYNC_INTERVAL_SECONDS": "2",
        "KUBECONFIG": str(cluster.serviceaccount_kubeconfig(NAMESPACE, "taskapi-operator")),
        "NO_PROXY": "*",
    }
    namespace = "helm-sample"
    cluster.kubectl("create", "namespace", namespace)
    log = tmp_path / "operator.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "taskapi_operator"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        cluster.kubectl("apply", "-n", namespace, "-f", str(SAMPLE))
        (sample,) = objects(SAMPLE.read_text())
        name = sample["metadata"]["name"]

        def reconciled() -> bool:
            assert process.poll() is None, "the operator exited"
            taskapi = cluster.get_json("taskapi", name, "-n", namespace)
            deployment = cluster.get_json("deployment", name, "-n", namespace)
            owner = deployment["metadata"]["ownerReferences"][0]
            return bool(
                owner["uid"] == taskapi["metadata"]["uid"]
                and (taskapi.get("status") or {}).get("observedGeneration")
                == taskapi["metadata"]["generation"]
            )

        eventually(
            reconciled,
            120,
            "the TaskApi reconciled by the chart-installed operator",
            interval=0.5,
            tolerate=(subprocess.CalledProcessError, KeyError, IndexError),
            explain=lambda: "\n".join(log.read_text(errors="replace").splitlines()[-30:]),
        )
    finally:
        terminate(process)

    helm.run("uninstall", RELEASE, "-n", NAMESPACE, "--wait", kubeconfig=cluster.kubeconfig)
    gone = cluster.kubectl("get", "deployment", "taskapi-operator", "-n", NAMESPACE, check=False)
    assert gone.returncode != 0, "the release's Deployment survived uninstall"
    # what stays: the CRD (Helm never deletes crds/, and it says keep) and so every TaskApi
    cluster.kubectl("get", "crd", "taskapis.taskapi.io")
    cluster.kubectl("get", "taskapi", name, "-n", namespace)
