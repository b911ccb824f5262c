"""One real node per session for every test in this directory: the stack (cluster, node, Dapr
from its chart, the operator from its chart as the README installs it, Redis, the sample) takes
minutes to start, and the tests read it without changing what the others rely on, except the
teardown check, which stops it and so runs last (ordered here, not by file names)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness import node
from harness.real_stack import RealStack

TEARDOWN_MARK = "stops_the_real_node"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{TEARDOWN_MARK}: stops the session's real node (runs after the others)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker(TEARDOWN_MARK) is not None)


@pytest.fixture(scope="session")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealStack]:
    # Where the machine cannot run the node the test fails with the reason, never skips: a
    # missing node is a defect on this project's machines.
    reason = node.unavailable_reason()
    assert not reason, f"the real node cannot run on this machine: {reason}"
    stack = RealStack(tmp_path_factory.mktemp("real-node"), operator_from_chart=True)
    stack.start(say=lambda message: print(f"==> {message}", flush=True))
    print("phases (s): " + ", ".join(f"{k} {v:.1f}" for k, v in stack.phases.items()))
    try:
        yield stack
    finally:
        stack.stop()
