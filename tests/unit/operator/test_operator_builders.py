"""Golden-file tests pinning the builders' manifests (UPDATE_GOLDEN=1 rewrites the files)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from goldens import Golden
from operator_fixtures import podspec_body, postgresql_body, refs_body, sample_body

from taskapi_operator import names
from taskapi_operator.builders import build_children
from taskapi_operator.builders.components import build_components, components_hash
from taskapi_operator.model import TaskApi


def _render(manifests: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(manifests, sort_keys=False, width=100)


CASES = {
    "sample": sample_body,
    "refs": refs_body,
    "podspec": podspec_body,
    "postgresql": postgresql_body,
}


@pytest.mark.parametrize(("case", "body"), [(name, make()) for name, make in CASES.items()])
def test_children_match_golden(case: str, body: dict[str, Any], golden: Golden) -> None:
    golden(f"{case}-children.yaml", _render(build_children(TaskApi.from_body(body))))


def test_children_never_carry_argocd_metadata() -> None:
    body = sample_body(
        labels={names.LABEL_INSTANCE: "argo-app", "team": "a"},
        annotations={"argocd.argoproj.io/tracking-id": "x", "argocd.argoproj.io/sync-wave": "1"},
    )
    for child in build_children(TaskApi.from_body(body)):
        meta = child["metadata"]
        assert meta["labels"][names.LABEL_INSTANCE] == "taskapi-sample"
        assert "team" not in meta["labels"]
        assert not any(k.startswith(names.ARGOCD_PREFIX) for k in meta.get("annotations", {}))
        assert meta["ownerReferences"][0]["uid"] == body["metadata"]["uid"]


def test_refs_create_no_components_and_no_secret_reader() -> None:
    kinds = [c["kind"] for c in build_children(TaskApi.from_body(refs_body()))]
    assert kinds == ["ServiceAccount", "Service", "Deployment"]


def test_component_change_changes_pod_template_hash() -> None:
    body = sample_body()
    before = components_hash(build_components(TaskApi.from_body(body)))
    body["spec"]["stateStore"]["managed"]["metadata"][0]["value"] = "redis-other:6379"
    after = components_hash(build_components(TaskApi.from_body(body)))
    assert before != after


def test_two_instances_in_one_namespace_do_not_collide() -> None:
    first = {
        (c["kind"], c["metadata"]["name"]) for c in build_children(TaskApi.from_body(sample_body()))
    }
    second = {
        (c["kind"], c["metadata"]["name"])
        for c in build_children(TaskApi.from_body(sample_body(name="other")))
    }
    assert not first & second
