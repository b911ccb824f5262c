"""Entry point of the operator image: runs kopf with this package's handlers."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import kopf

from taskapi_operator import handlers  # noqa: F401  (registers the handlers)
from taskapi_operator.settings import OperatorSettings

SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


def no_cluster_reason(
    env: Mapping[str, str], home: Path, token: Path = SERVICE_ACCOUNT_TOKEN
) -> str:
    """Why no login can work ("" when one may): neither in-cluster (the Service's address in the
    environment and a mounted ServiceAccount token) nor a kubeconfig file. Said up front, since
    kopf's own words for it ("Ran out of valid credentials. Consider installing an API client
    library ...") send a user looking for a library that is installed."""
    if env.get("KUBERNETES_SERVICE_HOST") and token.is_file():
        return ""
    configs = [Path(p) for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    if any(p.is_file() for p in configs or [home / ".kube" / "config"]):
        return ""
    where = env.get("KUBECONFIG") or str(home / ".kube" / "config")
    return (
        "No Kubernetes cluster to connect to: not in a pod (no KUBERNETES_SERVICE_HOST and "
        f"ServiceAccount token) and no kubeconfig at {where} (set TASKAPI_OPERATOR_KUBECONFIG "
        "or KUBECONFIG)"
    )


def main() -> None:
    settings = OperatorSettings()
    if settings.kubeconfig:  # kopf's login reads the kubeconfig named here
        os.environ["KUBECONFIG"] = settings.kubeconfig
    reason = no_cluster_reason(os.environ, Path.home())
    if reason:
        print(reason, file=sys.stderr)
        sys.exit(1)
    kopf.configure(
        verbose=False,
        log_format=kopf.LogFormat.JSON if settings.log_format == "json" else kopf.LogFormat.FULL,
    )
    kopf.run(
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        liveness_endpoint=settings.liveness_endpoint,
        standalone=True,
    )


if __name__ == "__main__":
    main()
