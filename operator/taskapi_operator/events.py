"""Events about TaskApis (kubectl describe), each the same one at most once per interval: a
level-triggered loop that re-finds the same fact every pass must not post an Event storm."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from taskapi_operator.entries import key_of
from taskapi_operator.kube import KubeError
from taskapi_operator.status import format_time

# (involved object, type, reason, message, time): kube.Kube.post_event
Post = Callable[[Mapping[str, Any], str, str, str, str], Awaitable[None]]
_KEPT = 10_000  # remembered Events at most; the oldest is forgotten first


class EventRecorder:
    def __init__(
        self,
        post: Post,
        repeat_seconds: float,
        logger: logging.Logger,
        wall: Callable[[], datetime],
        *,
        kept: int = _KEPT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._wall = wall
        self._post = post
        self._repeat = repeat_seconds
        self._logger = logger
        self._kept = kept
        self._clock = clock
        self._sent: OrderedDict[tuple[Any, ...], float] = OrderedDict()

    async def record(self, body: Mapping[str, Any], kind: str, reason: str, message: str) -> None:
        """Post an Event unless the same one went out within ``repeat_seconds``; a failure is
        logged, never raised (an Event is a courtesy to the user, not part of the pass)."""
        key = (*key_of(body), reason, message)
        now = self._clock()
        last = self._sent.get(key)
        if last is not None and now - last < self._repeat:
            return
        self._sent[key] = now
        self._sent.move_to_end(key)
        while len(self._sent) > self._kept:
            self._sent.popitem(last=False)
        try:
            await self._post(body, kind, reason, message, format_time(self._wall()))
        except KubeError as e:
            if not e.namespace_terminating:
                self._logger.warning(
                    "Event not posted taskapi=%s/%s reason=%s err=%s", *key[:2], reason, e
                )

    def __len__(self) -> int:
        return len(self._sent)
