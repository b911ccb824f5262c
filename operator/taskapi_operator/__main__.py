"""Entry point of the operator image: runs kopf with this package's handlers."""

from __future__ import annotations

import os

import kopf

from taskapi_operator import handlers  # noqa: F401  (registers the handlers)
from taskapi_operator.settings import OperatorSettings


def main() -> None:
    settings = OperatorSettings()
    if settings.kubeconfig:  # kopf's login reads the kubeconfig named here
        os.environ["KUBECONFIG"] = settings.kubeconfig
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
