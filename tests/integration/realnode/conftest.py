"""One real node per session for every test in this directory: the stack (cluster, node, Dapr
from its chart, the operator from its chart as the README installs it, Redis, the sample) takes
minutes to start. The tests read it, or change it and put it back; the teardown check stops
it. The order is set here, not by file names."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness import node
from harness.real_stack import RealStack

# Read-only tests first, then those that change the node and put it back, then the teardown.
ORDER = ("changes_the_real_node", "stops_the_real_node")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{ORDER[0]}: changes the real node, then restores it")
    config.addinivalue_line("markers", f"{ORDER[1]}: stops the session's real node")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return max((i + 1 for i, m in enumerate(ORDER) if item.get_closest_marker(m)), default=0)

    items.sort(key=rank)


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
