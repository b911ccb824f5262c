"""The only module of notification-service that talks to Dapr: the API key secret and the
claims (first-write records per event id) in its state store, through the bounded call and
the cached secret both apps share (dapr_sidecar)."""

from __future__ import annotations

import logging

from dapr_sidecar import CachedSecret, SidecarCalls, SidecarConnection
from notifier.claims import Claim, SentMark, claim_key, sent_key
from notifier.settings import Settings

log = logging.getLogger(__name__)


class SecretUnavailableError(Exception):
    """The API key could not be read from the Dapr secret store."""


class StateUnavailableError(Exception):
    """The claims could not be read or written: the caller should retry later."""


class ClaimTakenError(Exception):
    """Another writer created or changed the claim first."""


class DaprIO:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.sidecar = SidecarConnection(settings.sidecar_wait_seconds)
        # A refused first write or a stale ETag is a failure like any other here: whether
        # it was a lost race is decided by re-reading the claim (write_claim).
        self._state = SidecarCalls(
            self.sidecar,
            settings.dapr_call_timeout_seconds,
            unavailable=StateUnavailableError,
            conflict=StateUnavailableError,
        )
        self._secrets = SidecarCalls(
            self.sidecar,
            settings.dapr_call_timeout_seconds,
            unavailable=SecretUnavailableError,
            conflict=SecretUnavailableError,
        )
        self._api_key = CachedSecret(
            self._secrets,
            settings.secret_store,
            settings.secret_name,
            settings.secret_key,
            ttl_seconds=settings.secret_cache_seconds,
            missing=SecretUnavailableError,
        )

    async def api_key(self) -> str:
        return await self._api_key.get()

    async def read_claim(self, key: str) -> tuple[Claim, str] | None:
        store = self._settings.state_store
        resp = await self._state.call(
            f"reading {key!r} in state store {store!r}", lambda c: c.get_state(store, key)
        )
        if not resp.data:
            return None
        return Claim.model_validate_json(resp.data), resp.etag

    async def look(self, event_id: str) -> tuple[tuple[Claim, str] | None, bool]:
        """The event's claim with its ETag, and whether it is marked sent: one bulk read."""
        keys = [claim_key(event_id), sent_key(event_id)]
        found = await self._state.get_bulk(self._settings.state_store, keys, len(keys))
        claim = found.get(keys[0])
        claimed = None if claim is None else (Claim.model_validate_json(claim[0]), claim[1])
        return claimed, keys[1] in found

    async def mark_sent(self, mark: SentMark) -> None:
        """Create the event's sent mark (first write, one call)."""
        await self._save(sent_key(mark.event_id), mark.model_dump_json(), None)

    async def _save(self, key: str, value: str, etag: str | None) -> None:
        """One first-write save with the claims' TTL (etag None: create only)."""
        s = self._settings
        await self._state.save_first_write(s.state_store, key, value, etag, s.claim_ttl_seconds)

    async def write_claim(self, key: str, claim: Claim, etag: str | None) -> None:
        """etag None: create only (first write); else replace exactly that version.

        Raises ClaimTakenError when another writer got there first.
        """
        try:
            await self._save(key, claim.model_dump_json(), etag)
        except StateUnavailableError:
            # A refused first write or a stale ETag comes back as an error like any other:
            # it was a lost race exactly when the stored claim is not the one we replaced.
            current = await self.read_claim(key)
            if current is not None and current[1] != etag:
                raise ClaimTakenError(key) from None
            raise
