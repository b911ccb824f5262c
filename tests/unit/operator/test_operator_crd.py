"""One source for defaults: the CRD defaults a field, the model requires it (never repeats it);
and the CRD's CEL lists of operator-owned keys equal names.py's."""

from __future__ import annotations

import types
import typing
from typing import Any, get_args, get_origin

import pytest
from operator_fixtures import crd_schema
from pydantic import BaseModel

from taskapi_operator import names
from taskapi_operator.model import TaskApiSpec


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``X``, ``X | None`` or ``tuple[X, ...]``, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (types.UnionType, typing.Union, tuple):
        for arg in get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def _pairs(
    schema: dict[str, Any], model: type[BaseModel], path: str
) -> list[tuple[str, bool, bool]]:
    """(path, CRD requires-or-defaults it, model requires it) for every property, recursively."""
    out = []
    fields = {(f.alias or n): f for n, f in model.model_fields.items()}
    required = set(schema.get("required") or [])
    for key, prop in (schema.get("properties") or {}).items():
        field = fields.get(key)
        assert field is not None, f"{path}.{key}: in the CRD, not in the model"
        out.append((f"{path}.{key}", key in required or "default" in prop, field.is_required()))
        inner = _model_of(field.annotation)
        if inner is not None:
            out += _pairs(prop.get("items", prop), inner, f"{path}.{key}")
    return out


def test_model_requires_exactly_what_the_crd_requires_or_defaults() -> None:
    pairs = _pairs(crd_schema()["properties"]["spec"], TaskApiSpec, "spec")
    assert len(pairs) > 40
    wrong = [path for path, crd, model in pairs if crd != model]
    assert not wrong, (
        f"model and CRD disagree (default it in the CRD, require it in the model): {wrong}"
    )


def _rule(*path: str) -> str:
    node = crd_schema()["properties"]["spec"]
    for key in path:
        node = node["properties"][key]
    (validation,) = node["x-kubernetes-validations"]
    rule: str = validation["rule"]
    return rule


@pytest.mark.parametrize(
    ("path", "owned"),
    [
        (("env",), names.OPERATOR_ENV),
        (("pod", "labels"), names.OPERATOR_POD_LABELS),
        (("pod", "annotations"), names.OPERATOR_ANNOTATION_PREFIXES),
    ],
)
def test_cel_rules_name_exactly_the_operators_keys(
    path: tuple[str, ...], owned: tuple[str, ...]
) -> None:
    rule = _rule(*path)
    quoted = set(rule.split("'")[1::2])  # the rule's string literals
    assert quoted == set(owned), rule
