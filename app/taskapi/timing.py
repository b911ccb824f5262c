"""Timing of an I/O object's public calls, told to the observer given to its constructor: the
metrics seam of dapr_io, which stays free of any knowledge of metrics."""

import functools
import time
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

# Told about every timed call: (operation, "ok" or "error", seconds).
CallObserver = Callable[[str, str, float], None]
P = ParamSpec("P")
T = TypeVar("T")


def ignore(_operation: str, _outcome: str, _seconds: float) -> None:
    return None


class Observed(Protocol):
    @property
    def observe(self) -> CallObserver: ...


S = TypeVar("S", bound=Observed)


def timed(
    call: Callable[Concatenate[S, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, T]]:
    """The method, telling ``self.observe`` how long each call took and whether it failed."""
    operation = call.__name__

    @functools.wraps(call)
    async def timing(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        started, outcome = time.perf_counter(), "error"
        try:
            result = await call(self, *args, **kwargs)
            outcome = "ok"
            return result
        finally:
            self.observe(operation, outcome, time.perf_counter() - started)

    return timing
