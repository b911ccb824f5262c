"""Bounded polling: wait for a condition with a deadline, and say what was awaited when it
never came. The one place tests, the harness and the demo wait for eventual state."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def eventually(
    check: Callable[[], Any],
    timeout: float = 30,
    what: str = "condition",
    *,
    interval: float = 0.2,
    tolerate: tuple[type[BaseException], ...] = (),
    explain: Callable[[], str] | None = None,
) -> Any:
    """The first truthy result of ``check`` within ``timeout`` seconds.

    Exceptions in ``tolerate`` count as "not yet" (an object not created yet, say). On
    timeout the error names ``what``, the last result, and whatever ``explain`` adds
    (e.g. the tail of a log).
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except tolerate as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    detail = f"\n{explain()}" if explain is not None else ""
    raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}; last={last!r}{detail}")
