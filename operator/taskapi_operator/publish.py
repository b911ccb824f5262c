"""Publishing a computed status: only what changed, only on lasting evidence, with an Event
for each transition a user would want to see (Ready, subscription health; not the start of a
new TaskApi, whose pods are not ready yet and whose subscription is not known yet).

Two debounces keep flaps out of status (their memory is the TaskApi's entries.Debounce): a
self-healing loss of Ready must last ``hold_seconds`` before it is published, and a probe
finding that differs from the published one is re-checked after ``confirm_seconds`` (the
status policy's ``confirmations`` decide when it is published). A third paces progress: a
TaskApi whose pods are still starting has its status written at most every
``progress_seconds`` (becoming Ready, or anything else, is written at once).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from taskapi_operator import names
from taskapi_operator.entries import Entry, Key
from taskapi_operator.events import EventRecorder
from taskapi_operator.kube import KubeError
from taskapi_operator.status import merge_patch, ready_lost, ready_of
from taskapi_operator.status.subscription import UNKNOWN

# (namespace, name, merge patch of status) -> the updated TaskApi: kube.Kube.patch_status
PatchStatus = Callable[[str, str, Mapping[str, Any]], Awaitable[dict[str, Any]]]
# A hold is looked at again just after it ends.
_AFTER_HOLD = 0.05
# Ready=False while pods and sidecars start: the expected start of a TaskApi (or of its
# recovery), progress rather than news. At 1000 TaskApis created at once its Events were 1700
# of the first pass's writes, and its status changes 2-3 writes per TaskApi.
_STARTING = frozenset({names.REASON_PODS_NOT_READY, names.REASON_SIDECAR_NOT_READY})


def _starting(ready: tuple[str, str, str]) -> bool:
    return ready[0] == "False" and ready[1] in _STARTING


def progress_only(previous: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """A TaskApi still starting that is still starting, for the same generation."""
    return (
        _starting(ready_of(previous))
        and _starting(ready_of(new))
        and previous.get("observedGeneration") == new.get("observedGeneration")
    )


def _subscription(status: Mapping[str, Any]) -> Mapping[str, Any]:
    return status.get("subscription") or {}


class StatusPublisher:
    def __init__(
        self,
        patch_status: PatchStatus,
        events: EventRecorder,
        logger: logging.Logger,
        *,
        hold_seconds: float,
        confirm_seconds: float,
        progress_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._patch_status = patch_status
        self._events = events
        self._logger = logger
        self._hold_seconds = hold_seconds
        self._confirm_seconds = confirm_seconds
        self._progress_seconds = progress_seconds
        self._clock = clock

    @staticmethod
    def streak(entry: Entry, state: str) -> int:
        """Consecutive passes (this one included) whose probes found ``state``."""
        debounce = entry.debounce
        debounce.probe_streak = debounce.probe_streak + 1 if debounce.probe_state == state else 1
        debounce.probe_state = state
        return debounce.probe_streak

    async def publish(
        self,
        key: Key,
        entry: Entry,
        previous: Mapping[str, Any],
        new: Mapping[str, Any],
        *,
        stuck: bool,
    ) -> float | None:
        """Write ``new`` unless held; seconds until a status pass should look again, if so.
        ``stuck``: a container is waiting on what waiting will not bring up (a crash loop,
        an image that cannot be pulled): news, written and told at once."""
        held = self._held(entry, previous, new)
        if held is None and not stuck:
            held = self._paced(entry, previous, new)
        if held is not None:
            return held
        await self.write(key, entry, previous, new, stuck=stuck)
        state = entry.debounce.probe_state
        if state and state != _subscription(new).get("state"):
            return self._confirm_seconds
        return None

    def _held(
        self, entry: Entry, previous: Mapping[str, Any], new: Mapping[str, Any]
    ) -> float | None:
        """Seconds left while a loss of Ready has not lasted ``hold_seconds``."""
        debounce = entry.debounce
        if not ready_lost(previous, new):
            debounce.losing_since = None
            return None
        now = self._clock()
        if debounce.losing_since is None:
            debounce.losing_since = now
        left = self._hold_seconds - (now - debounce.losing_since)
        if left <= 0:
            debounce.losing_since = None
            return None
        return left + _AFTER_HOLD

    def _paced(
        self, entry: Entry, previous: Mapping[str, Any], new: Mapping[str, Any]
    ) -> float | None:
        """Seconds left before a starting TaskApi's progress may be written again."""
        last = entry.debounce.written_at
        if last is None or not progress_only(previous, new):
            return None
        left = self._progress_seconds - (self._clock() - last)
        return left + _AFTER_HOLD if left > 0 else None

    async def write(
        self,
        key: Key,
        entry: Entry,
        previous: Mapping[str, Any],
        new: Mapping[str, Any],
        *,
        stuck: bool,
    ) -> None:
        """Merge-patch status from ``previous`` to ``new`` (nothing when equal) and tell."""
        patch = merge_patch(previous, new)
        if not patch:
            return  # steady state: nothing to write
        try:
            updated = await self._patch_status(key[0], key[1], patch)
        except KubeError as e:
            if e.status == 404:
                return  # deleted meanwhile
            raise
        entry.wrote_status(updated)
        debounce = entry.debounce
        newly_stuck, debounce.stuck = stuck and not debounce.stuck, stuck
        debounce.written_at = self._clock()
        await self._tell(key, entry.body, (previous, new), newly_stuck=newly_stuck)

    async def _tell(
        self,
        key: Key,
        body: Mapping[str, Any],
        change: tuple[Mapping[str, Any], Mapping[str, Any]],
        *,
        newly_stuck: bool,
    ) -> None:
        previous, new = change
        before, after = ready_of(previous), ready_of(new)
        # Pods starting are no news (a loss of Ready is: that comes from True), unless one is
        # stuck (the Ready message then names the container and what to run).
        quiet = _starting(after) and before[0] != "True" and not newly_stuck
        if (before[:2] != after[:2] or newly_stuck) and not quiet:
            kind = "Normal" if after[0] == "True" else "Warning"
            await self._events.record(body, kind, after[1], after[2])
            self._logger.info(
                "Ready changed taskapi=%s/%s status=%s reason=%s", *key, after[0], after[1]
            )
        old_sub, new_sub = _subscription(previous), _subscription(new)
        state, was = new_sub.get("state"), old_sub.get("state")
        # A first Unknown (no ready pods yet, or no answer) is no finding worth an Event.
        if was != state and state is not None and not (was is None and state == UNKNOWN):
            kind = "Warning" if state == "Unhealthy" else "Normal"
            await self._events.record(
                body, kind, f"Subscription{state}", new_sub.get("message", "")
            )
