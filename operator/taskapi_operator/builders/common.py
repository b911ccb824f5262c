"""Metadata shared by every child: owner reference and labels, never the parent's Argo CD marks."""

from __future__ import annotations

from typing import Any

from taskapi_operator import names
from taskapi_operator.model import TaskApi


def owner_reference(taskapi: TaskApi) -> dict[str, Any]:
    # Set explicitly instead of kopf.adopt(): adopt also copies the parent's labels,
    # and with them Argo CD's tracking label, which makes Argo CD prune the child.
    return {
        "apiVersion": names.API_VERSION,
        "kind": names.KIND,
        "name": taskapi.name,
        "uid": taskapi.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def child_metadata(taskapi: TaskApi, name: str, component: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": taskapi.namespace,
        "labels": names.child_labels(taskapi.name, component),
        "ownerReferences": [owner_reference(taskapi)],
    }
