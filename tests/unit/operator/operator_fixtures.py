"""Shared inputs of the operator unit tests: the sample TaskApi and a reference-only variant,
both as the apiserver would serve them (the CRD's defaults applied)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from taskapi_operator.reconcile import status_policy
from taskapi_operator.settings import OperatorSettings

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "deploy" / "samples" / "taskapi.yaml"
CRD = REPO / "crds" / "taskapi.yaml"
UID = "0b5a3c1e-0000-4000-8000-000000000001"
# The status policy production runs with (OperatorSettings' defaults), never a test's own.
POLICY = status_policy(OperatorSettings())


def crd_schema() -> dict[str, Any]:
    crd = yaml.safe_load(CRD.read_text())
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """Structural-schema defaulting as the apiserver does it: a missing property with a default
    gets it (and then its own properties' defaults), recursively through objects and arrays."""
    if isinstance(value, dict):
        for key, prop in (schema.get("properties") or {}).items():
            if key not in value and "default" in prop:
                value[key] = copy.deepcopy(prop["default"])
            if key in value:
                apply_defaults(prop, value[key])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for item in value.values():
                apply_defaults(extra, item)
    elif isinstance(value, list) and "items" in schema:
        for item in value:
            apply_defaults(schema["items"], item)
    return value


def served(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` as the apiserver returns it: with the CRD's defaults."""
    result: dict[str, Any] = apply_defaults(crd_schema(), copy.deepcopy(body))
    return result


def sample_body(**meta: Any) -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    body["metadata"].update({"namespace": "shop", "uid": UID, "generation": 3, **meta})
    return served(body)


def refs_body() -> dict[str, Any]:
    """Every store is an existing component; sidecar config and appId set."""
    return served(
        {
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
    )


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: how kustomize patches a custom resource (lists replaced)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def postgresql_body() -> dict[str, Any]:
    """The sample with deploy/samples-postgresql's state store patch applied."""
    patch = yaml.safe_load((REPO / "deploy/samples-postgresql/taskapi-statestore.yaml").read_text())
    body: dict[str, Any] = merge_patch(sample_body(), {"spec": patch["spec"]})
    return served(body)


def podspec_body() -> dict[str, Any]:
    """Every pod setting a platform team sets, on the sample (replicas 3)."""
    pod = {
        "labels": {"team": "orders", "app.kubernetes.io/version": "0.1.0"},
        "annotations": {"prometheus.io/scrape": "true"},
        "imagePullSecrets": [{"name": "registry-credentials"}],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [
            {"key": "dedicated", "operator": "Equal", "value": "apps", "effect": "NoSchedule"}
        ],
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {"matchLabels": {"app.kubernetes.io/instance": "x"}},
                        },
                    }
                ]
            }
        },
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule",
            }
        ],
        "priorityClassName": "business-critical",
        "terminationGracePeriodSeconds": 60,
    }
    body = sample_body()
    body["spec"].update(
        replicas=3,
        pod=pod,
        env=[
            {"name": "TASKAPI_LOG_JSON", "value": "true"},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
        envFrom=[{"configMapRef": {"name": "taskapi-settings"}}],
    )
    body["spec"]["sidecar"]["appHealthCheck"] = {"probeIntervalSeconds": 10, "threshold": 5}
    return served(body)
