"""Shared inputs of the operator unit tests: the sample TaskApi and a reference-only variant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "deploy" / "samples" / "taskapi.yaml"
UID = "0b5a3c1e-0000-4000-8000-000000000001"


def sample_body(**meta: Any) -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    body["metadata"].update({"namespace": "shop", "uid": UID, "generation": 3, **meta})
    return body


def refs_body() -> dict[str, Any]:
    """Every store is an existing component; sidecar config and appId set."""
    return {
        "apiVersion": "taskapi.io/v1alpha1",
        "kind": "TaskApi",
        "metadata": {"name": "orders", "namespace": "shop", "uid": UID, "generation": 1},
        "spec": {
            "image": "registry.local/taskapi:dev",
            "appId": "orders-api",
            "port": 8080,
            "stateStore": {"ref": {"name": "statestore"}},
            "pubsub": {"ref": {"name": "pubsub"}, "topic": "orders"},
            "secretStore": {"ref": {"name": "vault"}},
            "sidecar": {"config": "tracing", "logLevel": "debug"},
        },
    }
