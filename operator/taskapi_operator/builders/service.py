"""The Service in front of the Task API pods."""

from __future__ import annotations

from typing import Any

from taskapi_operator import names
from taskapi_operator.builders.common import child_metadata
from taskapi_operator.model import TaskApi


def build_service(taskapi: TaskApi) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": child_metadata(taskapi, names.service_name(taskapi.name), names.COMPONENT_API),
        "spec": {
            "type": "ClusterIP",
            "selector": names.selector_labels(taskapi.name),
            "ports": [
                {
                    "name": names.APP_PORT_NAME,
                    "port": taskapi.spec.port,
                    "targetPort": names.APP_PORT_NAME,
                    "protocol": "TCP",
                }
            ],
        },
    }
