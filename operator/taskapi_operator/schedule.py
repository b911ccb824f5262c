"""When each TaskApi's next pass is due (pure arithmetic, clock and randomness passed in):
resyncs spread and jittered, transient failures retried with bounded exponential backoff."""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field


@dataclass
class Schedule:
    interval: float
    jitter: float  # fraction of the interval, e.g. 0.1: each turn comes at interval ±10%
    retry_base: float
    retry_max: float
    rand: Callable[[], float] = random.random  # in [0, 1)
    _due: dict[Hashable, float] = field(default_factory=dict)
    _failures: dict[Hashable, int] = field(default_factory=dict)

    def add(self, key: Hashable, now: float) -> None:
        """A new TaskApi's first resync falls anywhere in the next interval: spread, so
        that 1000 TaskApis listed at start-up do not come due at the same instant."""
        if key not in self._due:
            self._due[key] = now + self.interval * self.rand()

    def remove(self, key: Hashable) -> None:
        self._due.pop(key, None)
        self._failures.pop(key, None)

    def passed(self, key: Hashable, now: float) -> None:
        """A full pass ran: the next resync is one jittered interval away."""
        if key in self._due:
            spread = 1 + self.jitter * (2 * self.rand() - 1)
            self._due[key] = now + self.interval * spread

    def due(self, now: float) -> Iterator[Hashable]:
        return (k for k, at in list(self._due.items()) if at <= now)

    def failed(self, key: Hashable) -> float:
        """Delay before retrying a transient failure: base * 2^(n-1), capped, jittered to
        50-100% so that TaskApis failing together do not retry together."""
        n = self._failures.get(key, 0) + 1
        self._failures[key] = n
        delay = min(self.retry_max, self.retry_base * 2 ** min(n - 1, 30))
        return float(delay * (0.5 + 0.5 * self.rand()))

    def succeeded(self, key: Hashable) -> None:
        self._failures.pop(key, None)

    def failures(self, key: Hashable) -> int:
        return self._failures.get(key, 0)
