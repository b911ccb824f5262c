"""Pure builders: a parsed TaskApi in, the manifests of all its children out (no I/O)."""

from __future__ import annotations

from typing import Any

from taskapi_operator.builders.components import build_components, components_hash
from taskapi_operator.builders.deployment import build_deployment
from taskapi_operator.builders.disruption import build_disruption_budget
from taskapi_operator.builders.rbac import build_secret_reader, build_service_account
from taskapi_operator.builders.resiliency import build_resiliency
from taskapi_operator.builders.service import build_service
from taskapi_operator.model import TaskApi


def build_children(taskapi: TaskApi) -> list[dict[str, Any]]:
    """Every child, in apply order: identity and Dapr resources before the pods that use them."""
    # daprd reads its Components and Resiliency only at start: both go into the pod template's
    # hash, so that a change of either rolls the pods.
    dapr_resources = [*build_components(taskapi), *build_resiliency(taskapi)]
    deployment = build_deployment(taskapi, taskapi.component_names, components_hash(dapr_resources))
    return [
        build_service_account(taskapi),
        *build_secret_reader(taskapi),
        *dapr_resources,
        build_service(taskapi),
        deployment,
        *build_disruption_budget(taskapi),
    ]


__all__ = ["build_children"]
