"""The one protocol every harness component shares: ``start()``, ``stop()``, and a ``with``
block that stops what it started whatever happens inside it (and, for a program's main, a
SIGTERM that unwinds those blocks)."""

from __future__ import annotations

import signal
import sys
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


def exit_on_sigterm() -> None:
    """Make SIGTERM (``kill``, a CI timeout) unwind the program like Ctrl-C, so the ``with``
    blocks that started clusters, stores and sidecars stop them: by default SIGTERM ends
    Python at once and leaves every child running."""
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
