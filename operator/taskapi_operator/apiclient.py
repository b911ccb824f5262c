"""The operator's own HTTP session to the Kubernetes API, logged in with kopf's public login
helpers: the credentials kopf's watches use, and no private API of kopf (kube.py speaks the
verbs over it).

One aiohttp session, async end to end, no retries of its own: the work queue decides what is
transient and when to retry. Its connections are capped (``connections``): aiohttp speaks
HTTP/1.1, one request per connection, where client-go multiplexes every request over one
HTTP/2 connection; uncapped, a mass create's concurrent applies opened ~100 TLS connections
to the apiserver, each with a 256 KiB read buffer and OpenSSL's state, held for good in the
operator's resident memory (docs/benchmarks.md). Requests beyond the cap wait for a free
connection, within the request timeout. A 401 (a rotated service-account token, an expired exec
credential) logs in again once and repeats the request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import kopf

# The ways kopf's own default login tries, in its order (kubernetes is installed with the
# operator): in-cluster or kubeconfig via the kubernetes client's loaders, then kopf's own.
Login = Callable[[kopf.OperatorSettings, logging.Logger], kopf.ConnectionInfo]
_MESSAGE_MAX = 1024  # an error body that is not a Status is cut to this


def login(settings: kopf.OperatorSettings, logger: logging.Logger) -> kopf.ConnectionInfo:
    for helper in (
        kopf.login_via_client,
        kopf.login_with_service_account,
        kopf.login_with_kubeconfig,
    ):
        try:
            info = helper(settings=settings, logger=logger)
        except kopf.LoginError:
            continue  # e.g. the client's loaders found neither in-cluster nor kubeconfig
        if info is not None:
            return info
    raise kopf.LoginError("no Kubernetes credentials: no kubeconfig and no service account")


class ApiError(Exception):
    """An answer >= 400 (``status``) or none at all (``status`` 0), with the API's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def _message(response: aiohttp.ClientResponse) -> str:
    text = (await response.text()).strip()
    try:
        payload = json.loads(text)
    except ValueError:
        return text[:_MESSAGE_MAX] or response.reason or ""
    if isinstance(payload, dict) and payload.get("kind") == "Status":
        return str(payload.get("message") or response.reason or "")
    return response.reason or ""  # never dump an object body into a log


class ApiClient:
    def __init__(
        self,
        settings: kopf.OperatorSettings,
        logger: logging.Logger,
        *,
        connections: int,
        login: Login = login,
    ) -> None:
        self._settings = settings
        self._logger = logger
        self._connections = connections
        self._login = login
        self._session: aiohttp.ClientSession | None = None
        self._server = ""

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            info = self._login(self._settings, self._logger)
            self._server = info.server.rstrip("/")
            networking = self._settings.networking
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections, ssl=info.as_ssl_context()),
                headers={"User-Agent": "taskapi-operator", **info.as_http_headers()},
                timeout=aiohttp.ClientTimeout(
                    total=networking.request_timeout, sock_connect=networking.connect_timeout
                ),
                proxy=info.proxy_url,
                trust_env=info.trust_env,
            )
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        """(HTTP status, parsed JSON body or None); raises ApiError on >= 400 or no answer."""
        for attempt in (1, 2):
            session = self._open()
            try:
                async with session.request(
                    method,
                    self._server + path,
                    data=None if body is None else json.dumps(body),
                    headers=dict(headers or {}),
                ) as response:
                    if response.status == 401 and attempt == 1:
                        await self.close()  # log in again: credentials may have rotated
                        continue
                    if response.status >= 400:
                        raise ApiError(response.status, await _message(response))
                    if response.content_length == 0:
                        return response.status, None
                    return response.status, await response.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError) as e:
                raise ApiError(0, f"{method} {path}: {type(e).__name__}: {e}".rstrip(": ")) from e
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
