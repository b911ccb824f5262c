"""The one line between "try again later" and "report it": the work queue retries a
TransientError quietly with backoff and logs anything else as a failed pass."""

from __future__ import annotations


class TransientError(Exception):
    """Something that passes by itself: a conflict, throttling, an apiserver restart, no answer.

    The pass stops and leaves status as it was; the work queue retries it with backoff, unless
    ``terminating`` (the namespace is being deleted with everything in it): then nothing is
    retried.
    """

    @property
    def terminating(self) -> bool:
        return False
