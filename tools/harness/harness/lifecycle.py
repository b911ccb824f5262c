"""The one protocol every harness component shares: ``start()``, ``stop()``, and a ``with``
block that stops what it started whatever happens inside it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self


class Started(ABC):
    """Started by ``start()`` (which returns it), stopped by ``stop()``; ``with X(...) as x``
    does both."""

    @abstractmethod
    def start(self) -> Self: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
