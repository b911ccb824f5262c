"""Backs a kwok pod with the real processes it stands for: the app and its daprd sidecar,
both listening on the pod's own loopback IP, with Dapr's standard ports (3500, 50001, 3501).

kwok gives pods Running/Ready status and an IP but runs nothing. Starting the app and
daprd on that IP makes everything that dials the pod (the operator's sidecar probe, one
sidecar invoking another) meet real programs. daprd loads the Components the cluster
holds for its app-id, exactly as Dapr's operator would serve them, and reads Secrets with
the pod's ServiceAccount token, so the RBAC the operator rendered is exercised for real.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import yaml

from harness.dapr import Daprd
from harness.kube import Cluster
from harness.lifecycle import Started
from harness.process import Process

DAPR_HTTP_PORT = 3500
DAPR_GRPC_PORT = 50001
DAPR_PUBLIC_PORT = 3501


def _visible_to(component: Mapping[str, Any], app_id: str) -> bool:
    scopes = component.get("scopes") or []
    return not scopes or app_id in scopes


def _resolve_secret_refs(cluster: Cluster, namespace: str, spec: dict[str, Any]) -> None:
    """Inline ``secretKeyRef`` values from Kubernetes Secrets, as Dapr's operator does for
    components that name no other secret store (self-hosted daprd cannot resolve them)."""
    for item in spec.get("metadata") or []:
        ref = item.get("secretKeyRef")
        if not ref:
            continue
        secret = cluster.get_json("secret", ref["name"], "-n", namespace)
        key = ref.get("key") or ref["name"]
        item["value"] = base64.b64decode(secret["data"][key]).decode()
        del item["secretKeyRef"]


def export_components(cluster: Cluster, namespace: str, app_id: str, directory: Path) -> Path:
    """Write the namespace's Dapr Components visible to ``app_id`` as self-hosted files."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.yaml"):
        old.unlink()
    items = cluster.get_json("components.dapr.io", "-n", namespace)["items"]
    for item in items:
        if not _visible_to(item, app_id):
            continue
        if (item.get("auth") or {}).get("secretStore", "kubernetes") == "kubernetes":
            _resolve_secret_refs(cluster, namespace, item["spec"])
            item.pop("auth", None)
        doc: dict[str, Any] = {
            "apiVersion": item["apiVersion"],
            "kind": "Component",
            "metadata": {"name": item["metadata"]["name"]},
            "spec": item["spec"],
        }
        for key in ("scopes", "auth"):
            if key in item:
                doc[key] = item[key]
        (directory / f"{item['metadata']['name']}.yaml").write_text(yaml.safe_dump(doc))
    return directory


class PodProcesses(Started):
    """The app + daprd of one pod. ``app_argv`` is what the pod's image would run."""

    def __init__(
        self,
        cluster: Cluster,
        pod: Mapping[str, Any],
        app_argv: Sequence[str],
        workdir: Path,
        *,
        dapr_config: Path | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.cluster = cluster
        self.pod = pod
        self.namespace: str = pod["metadata"]["namespace"]
        self.name: str = pod["metadata"]["name"]
        self.ip: str = pod["status"]["podIP"]
        annotations = pod["metadata"].get("annotations") or {}
        self.app_id: str = annotations.get("dapr.io/app-id", self.name)
        self.app_port = int(annotations["dapr.io/app-port"])
        self.app_argv = list(app_argv)
        self.workdir = workdir / self.name
        self.dapr_config = dapr_config
        self.extra_env = dict(extra_env or {})
        self.app: Process | None = None
        self.daprd: Daprd | None = None

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.app_port}"

    def _container_env(self) -> dict[str, str]:
        """Literal env values of the pod's first (app) container."""
        container = self.pod["spec"]["containers"][0]
        return {e["name"]: e["value"] for e in container.get("env") or [] if "value" in e}

    def start(self) -> Self:
        resources = export_components(
            self.cluster, self.namespace, self.app_id, self.workdir / "components"
        )
        account = self.pod["spec"].get("serviceAccountName") or "default"
        token_kubeconfig = self.cluster.serviceaccount_kubeconfig(self.namespace, account)
        self.daprd = Daprd(
            self.app_id,
            self.app_port,
            resources,
            self.workdir,
            config=self.dapr_config,
            listen_ip=self.ip,
            app_ip=self.ip,
            http_port=DAPR_HTTP_PORT,
            grpc_port=DAPR_GRPC_PORT,
            public_port=DAPR_PUBLIC_PORT,
            # the Kubernetes secret store reads KUBECONFIG and NAMESPACE when not in a pod
            env={"KUBECONFIG": str(token_kubeconfig), "NAMESPACE": self.namespace},
        )
        env = {
            **os.environ,
            **self._container_env(),
            **self.daprd.app_env(),
            **self.extra_env,
        }
        self.app = Process(
            f"app[{self.name}]", self.app_argv, self.workdir / "app.log", env=env
        ).start()
        self.daprd.start()
        return self

    def stop(self) -> None:
        if self.daprd is not None:
            self.daprd.stop()
        if self.app is not None:
            self.app.stop()
