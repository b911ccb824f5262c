"""Dapr installed on the real node as its users install it: Dapr's own Helm chart (charts/dapr
of the github.com/dapr/dapr module daprd is built from), with this project's helm, into
``dapr-system``. The operator, sentry and sidecar injector run as pods from images of our own
Dapr builds; the injected ``daprd`` runs in Kubernetes mode, fed by Dapr's operator.

Scheduler and placement are off by chart values: the Task API uses no actors, jobs or
workflows, and a daprd told of a scheduler that does not run never passes its health check.
"""

from __future__ import annotations

import subprocess
import time
from typing import TYPE_CHECKING

from harness import binaries

if TYPE_CHECKING:
    from harness.kube import Cluster

NAMESPACE = "dapr-system"
RELEASE = "dapr"
VALUES = {
    "global.registry": "ghcr.io/dapr",
    "global.imagePullPolicy": "IfNotPresent",
    "global.scheduler.enabled": "false",
    "global.actors.enabled": "false",
    "global.ha.enabled": "false",
    "global.prometheus.enabled": "false",
    # the injected daprd as the restricted Pod Security Standard admits it (docs/install.md)
    "global.seccompProfile": "RuntimeDefault",
    "dapr_sidecar_injector.sidecarDropALLCapabilities": "true",
    "dapr_sidecar_injector.sidecarImagePullPolicy": "IfNotPresent",
}


def install(cluster: Cluster, version: str, timeout: float = 300) -> float:
    """``helm upgrade --install dapr`` and wait for its pods; returns the seconds it took."""
    began = time.monotonic()
    chart = binaries.build_dir("dapr") / "chart"
    values = {**VALUES, "global.tag": version}
    argv = [
        str(binaries.find("helm")),
        "upgrade",
        "--install",
        RELEASE,
        str(chart),
        "-n",
        NAMESPACE,
        "--create-namespace",
        "--wait",
        f"--timeout={int(timeout)}s",
        *(arg for key, value in values.items() for arg in ("--set", f"{key}={value}")),
    ]
    result = subprocess.run(
        argv, env=cluster.env, capture_output=True, text=True, check=False, timeout=timeout + 30
    )
    if result.returncode != 0:
        pods = cluster.kubectl("get", "pods", "-n", NAMESPACE, "-o", "wide", check=False).stdout
        events = cluster.kubectl(
            "get", "events", "-n", NAMESPACE, "--sort-by=.lastTimestamp", check=False
        ).stdout
        raise RuntimeError(
            f"helm install of Dapr's chart failed: {result.stderr.strip()[-2000:]}\n"
            f"pods:\n{pods}\nevents (last):\n{events[-3000:]}"
        )
    return time.monotonic() - began
