"""What the operator asks kopf to watch: server-side label selectors on every child kind and
pods (so the cluster's other objects never reach it), paged lists, and indices for each."""

from __future__ import annotations

from typing import Any

import kopf
import pytest

from taskapi_operator import cache, handlers, names

SELECTOR = "app.kubernetes.io/managed-by=taskapi-operator"


def _resource(kind: names.Kind) -> kopf.Resource:
    return kopf.Resource(kind.group, kind.version, kind.plural, kind=kind.kind, namespaced=True)


async def test_children_and_pods_are_filtered_on_the_server_and_listed_in_pages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No /metrics server: the default port 8080 may be taken on a shared machine.
    monkeypatch.setenv("TASKAPI_OPERATOR_METRICS_PORT", "0")
    settings = kopf.OperatorSettings()
    memo = kopf.Memo()
    indices: dict[str, Any] = {cache.index_id(k): {} for k in (*names.CHILD_KINDS, names.PODS)}
    indices |= {cache.named_index_id(kind): {} for kind in cache.BY_NAME}
    await handlers.configure(settings=settings, memo=memo, **indices)
    try:
        collect = settings.watching.label_selectors.collect
        for kind in (*names.CHILD_KINDS, names.PODS):
            expected = [] if kind in names.WATCHED_IN_FULL else [SELECTOR]
            assert list(collect(_resource(kind))) == expected, kind.plural
        # Referenced Components are the user's, unlabelled, and Resiliencies are few: those
        # watches are not filtered (a miss in them means absent: no GET before a create).
        taskapis = kopf.Resource(names.GROUP, names.VERSION, names.PLURAL, kind=names.KIND)
        assert list(collect(taskapis)) == []
        assert settings.watching.chunk_size == 500
    finally:
        await handlers.shutdown(memo=memo)
