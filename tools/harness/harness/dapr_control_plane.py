"""Dapr's own control plane, sentry and the sidecar injector, run as processes against a
harness cluster, so pods of Dapr-annotated workloads get the real injected ``daprd`` container.

In a real cluster Dapr's Helm chart runs these as Deployments in ``dapr-system``. Here the same
programs (built by ``tools/binaries/build.sh dapr-control-plane``) get the same inputs: the
chart's ServiceAccounts and RBAC, the ``daprsystem`` Configuration, the ``dapr-trust-bundle``
Secret/ConfigMap that sentry fills with the CA it generates, ServiceAccount tokens from the
TokenRequest API (the injector's bound to a stand-in Pod, as sentry checks the pod behind a
token), and the chart's MutatingWebhookConfiguration.

Why the webhook is Service-referenced, not ``clientConfig.url``: the injector serves with the
certificate sentry issues it, whose only DNS name is ``dapr-sidecar-injector.dapr-system.svc``
(dapr pkg/sentry/server/server.go), so the apiserver must verify that name, which it does only
for a Service reference. The Service's EndpointSlice points at 127.0.0.1, and the cluster's
apiserver dials endpoints instead of ClusterIPs (``ClusterOptions.endpoint_routing``), so every
connection stays on loopback.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Self

import yaml

from harness import binaries
from harness.kube import Cluster, ClusterOptions
from harness.lifecycle import Started
from harness.ports import LOOPBACK, free_port
from harness.process import Process
from harness.repo import REPO

NAMESPACE = "dapr-system"
TRUST_DOMAIN = "cluster.local"
WEBHOOK = "dapr-sidecar-injector"  # fixed in the injector: it patches this object's caBundle
INJECTOR_SERVICE = "dapr-sidecar-injector"
SENTRY_AUDIENCE = f"spiffe://{TRUST_DOMAIN}/ns/{NAMESPACE}/dapr-sentry"
TRUST_BUNDLE = "dapr-trust-bundle"
_WRAPPER_GO_MOD = REPO / "tools" / "binaries" / "dapr-control-plane" / "go.mod"
# the chart's default for IGNORE_ENTRYPOINT_TOLERATIONS (values.yaml of dapr_sidecar_injector)
_ENTRYPOINT_TOLERATIONS = json.dumps(
    [
        {"effect": "NoSchedule", "key": key}
        for key in ("alibabacloud.com/eci", "azure.com/aci", "aws", "huawei.com/cci")
    ]
)


def dapr_version() -> str:
    """The dapr module version sentry, the injector (and daprd) are built from, e.g. 1.17.0."""
    match = re.search(r"^\s+github\.com/dapr/dapr v(\S+)", _WRAPPER_GO_MOD.read_text(), re.M)
    if match is None:
        raise RuntimeError(f"no github.com/dapr/dapr requirement in {_WRAPPER_GO_MOD}")
    return match.group(1)


def _rbac() -> list[dict[str, Any]]:
    """ServiceAccounts, (Cluster)Roles and bindings of charts/dapr/charts/dapr_rbac."""
    cluster_rules = {
        "dapr-sentry": [
            {
                "apiGroups": ["authentication.k8s.io"],
                "resources": ["tokenreviews"],
                "verbs": ["create"],
            },
            {
                "apiGroups": ["dapr.io"],
                "resources": ["configurations"],
                "verbs": ["list", "get", "watch"],
            },
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "get", "watch"]},
        ],
        "dapr-injector": [
            {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["get", "list"]},
            {
                "apiGroups": ["admissionregistration.k8s.io"],
                "resources": ["mutatingwebhookconfigurations"],
                "verbs": ["patch"],
                "resourceNames": [WEBHOOK],
            },
            {"apiGroups": ["dapr.io"], "resources": ["components"], "verbs": ["get", "list"]},
        ],
    }
    namespace_rules = {
        "dapr-sentry": [
            {
                "apiGroups": [""],
                "resources": ["secrets"],
                "verbs": ["get", "update", "delete"],
                "resourceNames": [TRUST_BUNDLE],
            },
            {
                "apiGroups": [""],
                "resources": ["configmaps"],
                "verbs": ["get", "update", "watch", "list"],
                "resourceNames": [TRUST_BUNDLE],
            },
            {
                "apiGroups": ["dapr.io"],
                "resources": ["configurations"],
                "verbs": ["list", "get", "watch"],
            },
        ],
        "dapr-injector": [
            {
                "apiGroups": [""],
                "resources": ["secrets"],
                "verbs": ["get"],
                "resourceNames": [TRUST_BUNDLE],
            },
            {"apiGroups": ["dapr.io"], "resources": ["components"], "verbs": ["get", "list"]},
            {"apiGroups": ["dapr.io"], "resources": ["configurations"], "verbs": ["get"]},
            {"apiGroups": ["apps"], "resources": ["statefulsets"], "verbs": ["get"]},
        ],
    }
    rbac = "rbac.authorization.k8s.io"
    docs: list[dict[str, Any]] = []
    for name, rules in cluster_rules.items():
        subject = {"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}
        docs += [
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": NAMESPACE},
            },
            {
                "apiVersion": f"{rbac}/v1",
                "kind": "ClusterRole",
                "metadata": {"name": name},
                "rules": rules,
            },
            {
                "apiVersion": f"{rbac}/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": name},
                "subjects": [subject],
                "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": name},
            },
            {
                "apiVersion": f"{rbac}/v1",
                "kind": "Role",
                "metadata": {"name": name, "namespace": NAMESPACE},
                "rules": namespace_rules[name],
            },
            {
                "apiVersion": f"{rbac}/v1",
                "kind": "RoleBinding",
                "metadata": {"name": name, "namespace": NAMESPACE},
                "subjects": [subject],
                "roleRef": {"apiGroup": rbac, "kind": "Role", "name": name},
            },
        ]
    return docs


def _system_objects(injector_port: int) -> list[dict[str, Any]]:
    """What the chart installs besides RBAC and the webhook, loopback-adapted."""
    meta = {"namespace": NAMESPACE}
    return [
        {
            "apiVersion": "dapr.io/v1alpha1",
            "kind": "Configuration",
            "metadata": {"name": "daprsystem", **meta},
            "spec": {
                "mtls": {
                    "enabled": True,
                    "workloadCertTTL": "24h",
                    "allowedClockSkew": "15m",
                    "controlPlaneTrustDomain": TRUST_DOMAIN,
                    "sentryAddress": f"dapr-sentry.{NAMESPACE}.svc.cluster.local:443",
                }
            },
        },
        # empty: sentry generates its CA and stores it here, as with the chart's defaults
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": TRUST_BUNDLE, **meta}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": TRUST_BUNDLE, **meta}},
        # no selector: its only endpoint is the injector process on loopback
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": INJECTOR_SERVICE, **meta},
            "spec": {
                "type": "ClusterIP",
                "ports": [{"name": "https", "port": 443, "protocol": "TCP"}],
            },
        },
        # FQDN-typed because IPv4 slices refuse loopback addresses; the apiserver dials it as is
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{INJECTOR_SERVICE}-loopback",
                **meta,
                "labels": {
                    "kubernetes.io/service-name": INJECTOR_SERVICE,
                    "endpointslice.kubernetes.io/managed-by": "taskapi-harness",
                },
            },
            "addressType": "FQDN",
            "endpoints": [{"addresses": [LOOPBACK], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": injector_port, "protocol": "TCP"}],
        },
    ]


def _webhook(ca_bundle: bytes) -> dict[str, Any]:
    """charts/dapr/charts/dapr_sidecar_injector/templates/dapr_sidecar_injector_webhook_config."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": WEBHOOK, "labels": {"app": "dapr-sidecar-injector"}},
        "webhooks": [
            {
                "name": "sidecar-injector.dapr.io",
                "reinvocationPolicy": "IfNeeded",
                "clientConfig": {
                    "service": {
                        "namespace": NAMESPACE,
                        "name": INJECTOR_SERVICE,
                        "path": "/mutate",
                        "port": 443,
                    },
                    # the injector replaces it with sentry's trust anchors (same value) at start
                    "caBundle": base64.b64encode(ca_bundle).decode(),
                },
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["pods"],
                        "operations": ["CREATE"],
                    }
                ],
                "failurePolicy": "Ignore",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1", "v1beta1"],
                "timeoutSeconds": 10,
            }
        ],
    }


def _healthy(port: int) -> bool:
    url = f"http://{LOOPBACK}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # loopback only
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class DaprControlPlane(Started):
    """Sentry + sidecar injector on ``cluster`` (which needs ``endpoint_routing``).

    ``start()`` returns once a server-side dry-run of an annotated pod comes back with the
    ``daprd`` container, i.e. the apiserver really calls the injector. ``stop()`` ends both
    processes and removes the webhook, so the cluster creates pods without sidecars again.
    """

    # what the cluster must run with (see ClusterOptions for why each)
    CLUSTER_OPTIONS = ClusterOptions(endpoint_routing=True, service_account_admission=True)

    def __init__(self, cluster: Cluster, workdir: Path) -> None:
        if not (cluster.options.endpoint_routing and cluster.options.service_account_admission):
            raise ValueError(
                "Dapr's injector needs a Cluster started with DaprControlPlane.CLUSTER_OPTIONS "
                "(endpoint_routing, service_account_admission)"
            )
        self.cluster = cluster
        self.workdir = workdir
        self.namespace = NAMESPACE
        self.version = dapr_version()
        self.sidecar_image = f"ghcr.io/dapr/daprd:{self.version}"
        self.sentry_port = 0
        self.injector_port = 0
        self.trust_anchors = b""
        self.started_in: float | None = None  # seconds start() took
        self._procs: list[Process] = []
        self._stand_in_pod: str | None = None

    @property
    def sentry_address(self) -> str:
        return f"{LOOPBACK}:{self.sentry_port}"

    @property
    def injector_url(self) -> str:
        """Where the injector serves (the apiserver reaches it via its Service's EndpointSlice)."""
        return f"https://{LOOPBACK}:{self.injector_port}/mutate"

    def running(self) -> bool:
        return bool(self._procs) and all(proc.running() for proc in self._procs)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> Self:
        """Start (or, after ``stop()``, restart: sentry keeps its CA in the Secret)."""
        began = time.monotonic()
        self.sentry_port, self.injector_port = free_port(), free_port()
        try:
            self.workdir.mkdir(parents=True, exist_ok=True)
            self._install()
            self._start_sentry()
            self._start_injector()
            self._wait_injecting()
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        return self

    def stop(self) -> None:
        """End both processes; remove the webhook (pods get no sidecar: Dapr not installed)."""
        for proc in reversed(self._procs):
            proc.stop()
        self._procs.clear()
        self.cluster.kubectl(
            "delete",
            "mutatingwebhookconfiguration",
            WEBHOOK,
            "--ignore-not-found",
            "--wait=false",
            check=False,
        )
        if self._stand_in_pod is not None:
            self.cluster.kubectl(
                "delete",
                "pod",
                self._stand_in_pod,
                "-n",
                NAMESPACE,
                "--ignore-not-found",
                "--wait=false",
                check=False,
            )
            self._stand_in_pod = None

    @property
    def logs(self) -> dict[str, Path]:
        return {proc.name: proc.log_path for proc in self._procs}

    # -- steps ---------------------------------------------------------------------------

    def _install(self) -> None:
        self.cluster.install_crds(binaries.dapr_crds())
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        docs = [namespace, *_rbac(), *_system_objects(self.injector_port)]
        self.cluster.apply_yaml(yaml.safe_dump_all(docs))

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Process:
        proc_env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")}
        if os.geteuid() == 0:
            # Dapr refuses root in Kubernetes mode (pods run as non-root); its own override
            proc_env["DAPR_UNSAFE_SKIP_CONTAINER_UID_GID_CHECK"] = "true"
        proc_env.update(env)
        proc = Process(name, argv, self.workdir / "logs" / f"{name}.log", env=proc_env).start()
        self._procs.append(proc)
        return proc

    def _start_sentry(self) -> None:
        kubeconfig = self.cluster.serviceaccount_kubeconfig(NAMESPACE, "dapr-sentry")
        credentials = self.workdir / "sentry-credentials"  # watched; the CA lives in the Secret
        credentials.mkdir(exist_ok=True)
        healthz = free_port()
        bin_dir = binaries.build_dir("dapr-control-plane")
        proc = self._spawn(
            "dapr-sentry",
            [
                str(bin_dir / "sentry"),
                "--mode=kubernetes",
                f"--kubeconfig={kubeconfig}",
                f"--listen-address={LOOPBACK}",
                f"--port={self.sentry_port}",
                f"--healthz-listen-address={LOOPBACK}",
                f"--healthz-port={healthz}",
                "--enable-metrics=false",
                f"--trust-domain={TRUST_DOMAIN}",
                f"--issuer-credentials={credentials}",
                "--log-level=info",
            ],
            {"NAMESPACE": NAMESPACE, "KUBE_CLUSTER_DOMAIN": TRUST_DOMAIN},
        )
        proc.wait_until(lambda: _healthy(healthz), 60, "healthy (/healthz)")
        proc.wait_until(self._read_trust_anchors, 30, f"publishing ConfigMap {TRUST_BUNDLE}")

    def _read_trust_anchors(self) -> bool:
        data = (
            self.cluster.request(
                "GET", f"/api/v1/namespaces/{NAMESPACE}/configmaps/{TRUST_BUNDLE}"
            ).get("data")
            or {}
        )
        self.trust_anchors = data.get("ca.crt", "").encode()
        return bool(self.trust_anchors)

    def _injector_identity(self) -> Path:
        """The pod-bound ServiceAccount token sentry wants (it looks the pod up)."""
        pod = self.cluster.request(
            "POST",
            f"/api/v1/namespaces/{NAMESPACE}/pods",
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "generateName": "dapr-sidecar-injector-",
                    "labels": {"app": "dapr-sidecar-injector"},
                    # a control-plane pod: sentry then expects the identity "dapr-injector"
                    "annotations": {"dapr.io/control-plane": "injector"},
                },
                "spec": {
                    "serviceAccountName": "dapr-injector",
                    "automountServiceAccountToken": False,
                    "containers": [
                        {
                            "name": "dapr-sidecar-injector",
                            "image": f"ghcr.io/dapr/injector:{self.version}",
                        }
                    ],
                },
            },
        )
        meta = pod["metadata"]
        self._stand_in_pod = meta["name"]
        reply = self.cluster.request(
            "POST",
            f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/dapr-injector/token",
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {
                    "audiences": [SENTRY_AUDIENCE],
                    "expirationSeconds": 6 * 3600,
                    "boundObjectRef": {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "name": meta["name"],
                        "uid": meta["uid"],
                    },
                },
            },
        )
        token = self.workdir / "injector-sentrytoken"
        token.write_text(reply["status"]["token"])
        token.chmod(0o600)
        return token

    def _start_injector(self) -> None:
        token = self._injector_identity()
        trust_anchors = self.workdir / "trust-anchors.crt"
        trust_anchors.write_bytes(self.trust_anchors)
        self.cluster.apply_yaml(yaml.safe_dump(_webhook(self.trust_anchors)))
        kubeconfig = self.cluster.serviceaccount_kubeconfig(NAMESPACE, "dapr-injector")
        healthz = free_port()
        bin_dir = binaries.build_dir("dapr-control-plane")
        proc = self._spawn(
            "dapr-injector",
            [
                str(bin_dir / "injector"),
                f"--kubeconfig={kubeconfig}",
                f"--listen-address={LOOPBACK}",
                f"--port={self.injector_port}",
                f"--healthz-listen-address={LOOPBACK}",
                f"--healthz-port={healthz}",
                "--enable-metrics=false",
                "--scheduler-enabled=true",
                "--log-level=info",
            ],
            {
                # the chart's env for dapr-sidecar-injector, with loopback addresses and our files
                "NAMESPACE": NAMESPACE,
                "DAPR_TRUST_ANCHORS_FILE": str(trust_anchors),
                "DAPR_CONTROL_PLANE_TRUST_DOMAIN": TRUST_DOMAIN,
                "DAPR_SENTRY_ADDRESS": self.sentry_address,
                "DAPR_SENTRY_TOKEN_FILE": str(token),
                "KUBE_CLUSTER_DOMAIN": TRUST_DOMAIN,
                "SIDECAR_IMAGE": self.sidecar_image,
                "SIDECAR_IMAGE_PULL_POLICY": "IfNotPresent",
                "SIDECAR_RUN_AS_NON_ROOT": "true",
                "ENABLE_K8S_DOWNWARD_APIS": "false",
                "SIDECAR_DROP_ALL_CAPABILITIES": "false",
                "SIDECAR_READ_ONLY_ROOT_FILESYSTEM": "true",
                "IGNORE_ENTRYPOINT_TOLERATIONS": _ENTRYPOINT_TOLERATIONS,
                "ACTORS_ENABLED": "true",
                "ACTORS_SERVICE_NAME": "placement",
                "ACTORS_SERVICE_ADDRESS": "dapr-placement-server:50005",
            },
        )
        # healthy = serving with sentry's certificate and the webhook's caBundle patched
        proc.wait_until(lambda: _healthy(healthz), 60, "healthy (/healthz)")

    def _wait_injecting(self) -> None:
        """The apiserver picks webhooks and EndpointSlices up asynchronously: probe for real."""
        probe = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "injection-probe",
                "namespace": "default",
                "annotations": {"dapr.io/enabled": "true", "dapr.io/app-id": "injection-probe"},
            },
            "spec": {"containers": [{"name": "app", "image": "busybox"}]},
        }
        injector = self._procs[-1]

        def injected() -> bool:
            reply = self.cluster.request(
                "POST", "/api/v1/namespaces/default/pods?dryRun=All", probe
            )
            return any(c["name"] == "daprd" for c in reply["spec"]["containers"])

        injector.wait_until(injected, 30, "called by the apiserver (dry-run pod injected)")
