"""Pod identity and the least-privilege Role the Kubernetes secret store needs."""

from __future__ import annotations

from typing import Any

from taskapi_operator import names
from taskapi_operator.builders.common import child_metadata
from taskapi_operator.model import TaskApi

KUBERNETES_SECRET_STORE = "secretstores.kubernetes"  # noqa: S105 (a component type)


def build_service_account(taskapi: TaskApi) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": child_metadata(
            taskapi, names.service_account_name(taskapi.name), names.COMPONENT_IDENTITY
        ),
    }


def needs_secret_reader(taskapi: TaskApi) -> bool:
    managed = taskapi.spec.secret_store.managed
    return managed is not None and managed.type == KUBERNETES_SECRET_STORE


def build_secret_reader(taskapi: TaskApi) -> list[dict[str, Any]]:
    """Role + RoleBinding: daprd (running as the pod's account) may get only the named secret."""
    if not needs_secret_reader(taskapi):
        return []
    name = names.secret_reader_role_name(taskapi.name)
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": child_metadata(taskapi, name, names.COMPONENT_SECRETSTORE),
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["secrets"],
                "resourceNames": [taskapi.spec.notifications.secret_name],
                "verbs": ["get"],
            }
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": child_metadata(taskapi, name, names.COMPONENT_SECRETSTORE),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [
            {
                "kind": "ServiceAccount",
                "name": names.service_account_name(taskapi.name),
                "namespace": taskapi.namespace,
            }
        ],
    }
    return [role, binding]
