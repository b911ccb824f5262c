"""One real node per session for every test in this directory: the stack (cluster, node, Dapr
from its chart, the operator from its chart as the README installs it, Redis, the sample) takes
minutes to start. The tests read it, or change it and put it back; the teardown check stops
it. The order is set here, not by file names."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import node
from harness.real_stack import RealStack

# Read-only tests first, then those that change the node and put it back, then the uninstall
# of the operator and the sample, then the teardown.
ORDER = {
    "changes_the_real_node": "changes the real node, then restores it",
    "removes_the_operator": "uninstalls the operator and removes the sample",
    "stops_the_real_node": "stops the session's real node",
}


def pytest_configure(config: pytest.Config) -> None:
    for mark, what in ORDER.items():
        config.addinivalue_line("markers", f"{mark}: {what}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order this directory's tests in place (the hook sees the whole session's items: the
    others keep their places)."""
    here = Path(__file__).parent

    def rank(item: pytest.Item) -> int:
        ranks = [list(ORDER).index(m.name) + 1 for m in item.iter_markers() if m.name in ORDER]
        return max(ranks, default=0)

    slots = [i for i, item in enumerate(items) if here in item.path.parents]
    ordered = sorted((items[i] for i in slots), key=rank)
    for slot, item in zip(slots, ordered, strict=True):
        items[slot] = item


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
