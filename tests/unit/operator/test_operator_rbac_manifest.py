"""deploy/operator/rbac.yaml agrees with the operator's names: one ClusterRole the operator may
bind, and no Secret access for the operator itself (the apiserver proof is in
tests/integration/operator/test_operator_rbac.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from operator_fixtures import sample_body

from taskapi_operator import names
from taskapi_operator.builders import build_children
from taskapi_operator.model import TaskApi

RBAC = Path(__file__).resolve().parents[3] / "deploy" / "operator" / "rbac.yaml"


def _cluster_roles() -> dict[str, dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(RBAC.read_text()) if d]
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == "ClusterRole"}


def test_secret_reader_cluster_role_is_get_only() -> None:
    role = _cluster_roles()[names.SECRET_READER_CLUSTER_ROLE]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]


def test_operator_reads_no_secrets_and_binds_only_the_secret_reader() -> None:
    rules = _cluster_roles()[names.MANAGER]["rules"]
    assert not [r for r in rules if "secrets" in r["resources"] or "*" in r["resources"]]
    assert not [r for r in rules if {"escalate", "*"} & set(r["verbs"])]
    binds = [r for r in rules if "bind" in r["verbs"]]
    assert binds == [
        {
            "apiGroups": ["rbac.authorization.k8s.io"],
            "resources": ["clusterroles"],
            "resourceNames": [names.SECRET_READER_CLUSTER_ROLE],
            "verbs": ["bind"],
        }
    ]


def test_rendered_binding_points_at_the_shipped_cluster_role() -> None:
    children = build_children(TaskApi.from_body(sample_body()))
    assert not [c for c in children if c["kind"] in ("Role", "ClusterRole")]
    (binding,) = [c for c in children if c["kind"] == "RoleBinding"]
    assert binding["metadata"]["namespace"] == "shop"
    assert binding["roleRef"]["kind"] == "ClusterRole"
    assert binding["roleRef"]["name"] in _cluster_roles()


def test_delete_is_granted_on_exactly_the_kinds_of_children() -> None:
    """Prune needs delete on what the operator creates (names.CHILD_KINDS), nothing else."""
    rules = _cluster_roles()[names.MANAGER]["rules"]
    deletable = {
        (group, resource)
        for r in rules
        if "delete" in r["verbs"] or "*" in r["verbs"]
        for group in r["apiGroups"]
        for resource in r["resources"]
    }
    assert deletable == {(k.group, k.plural) for k in names.CHILD_KINDS}
    assert not [r for r in rules if "deletecollection" in r["verbs"]]
