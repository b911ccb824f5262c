"""Pod identity and the RoleBinding that lets the Kubernetes secret store read Secrets."""

from __future__ import annotations

from typing import Any

from taskapi_operator import names
from taskapi_operator.builders.common import child_metadata
from taskapi_operator.model import TaskApi

KUBERNETES_SECRET_STORE = "secretstores.kubernetes"  # noqa: S105 (a component type)
RBAC_API_GROUP = "rbac.authorization.k8s.io"


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
    """A RoleBinding (this namespace only) of the pod's account to the shared secret-reader role.

    daprd reads Secrets as the pod's ServiceAccount. A per-instance Role naming only the
    notification Secret would be narrower, but RBAC lets the operator create such a Role only
    if it could read that Secret itself; binding the pre-installed ClusterRole needs just
    ``bind`` on it. The price: the account may get (not list) any Secret in its namespace.
    """
    if not needs_secret_reader(taskapi):
        return []
    name = names.secret_reader_binding_name(taskapi.name)
    binding = {
        "apiVersion": f"{RBAC_API_GROUP}/v1",
        "kind": "RoleBinding",
        "metadata": child_metadata(taskapi, name, names.COMPONENT_SECRETSTORE),
        "roleRef": {
            "apiGroup": RBAC_API_GROUP,
            "kind": "ClusterRole",
            "name": names.SECRET_READER_CLUSTER_ROLE,
        },
        "subjects": [
            {
                "kind": "ServiceAccount",
                "name": names.service_account_name(taskapi.name),
                "namespace": taskapi.namespace,
            }
        ],
    }
    return [binding]
