"""The operator's own API session (apiclient.py) against a local HTTP server: JSON answers,
the API's Status message on errors, no answer as status 0, and one new login on a 401."""

from __future__ import annotations

import asyncio
import logging
import socket

import kopf
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from taskapi_operator.apiclient import ApiClient, ApiError

LOG = logging.getLogger("test.apiclient")


def _app(tokens: list[str]) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {tokens[-1]}":
            return web.json_response({"kind": "Status", "message": "Unauthorized"}, status=401)
        if request.path.endswith("/missing"):
            body = {"kind": "Status", "message": 'pods "missing" not found'}
            return web.json_response(body, status=404)
        if request.path.endswith("/secret-body"):
            return web.json_response({"kind": "Secret", "data": {"k": "c2VjcmV0"}}, status=409)
        if request.method == "DELETE":
            return web.Response(status=200)
        return web.json_response({"method": request.method, "body": await request.text()})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def test_requests_errors_and_a_new_login_on_401() -> None:
    tokens = ["first"]
    logins: list[str] = []
    async with TestServer(_app(tokens)) as server:

        def login(_settings: kopf.OperatorSettings, _logger: logging.Logger) -> kopf.ConnectionInfo:
            logins.append(tokens[-1])
            return kopf.ConnectionInfo(server=str(server.make_url("/")), token=tokens[-1])

        client = ApiClient(kopf.OperatorSettings(), LOG, connections=4, login=login)
        try:
            status, answer = await client.request("POST", "/api/v1/x", body={"a": 1})
            assert (status, answer) == (200, {"method": "POST", "body": '{"a": 1}'})
            assert await client.request("DELETE", "/api/v1/x") == (200, None)
            with pytest.raises(ApiError) as missing:
                await client.request("GET", "/api/v1/namespaces/ns/pods/missing")
            assert (missing.value.status, missing.value.message) == (
                404,
                'pods "missing" not found',
            )
            with pytest.raises(ApiError) as other:
                await client.request("GET", "/api/v1/secret-body")
            assert other.value.status == 409
            assert "c2VjcmV0" not in other.value.message  # an object body is never logged
            tokens.append("rotated")  # the token rotates: one 401, a new login, the answer
            assert (await client.request("GET", "/api/v1/x"))[0] == 200
            assert logins == ["first", "rotated"]
        finally:
            await client.close()


async def test_no_answer_is_status_zero() -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    def login(_settings: kopf.OperatorSettings, _logger: logging.Logger) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=f"http://127.0.0.1:{port}")

    client = ApiClient(kopf.OperatorSettings(), LOG, connections=4, login=login)
    try:
        with pytest.raises(ApiError) as raised:
            await client.request("GET", "/api/v1/x")
        assert raised.value.status == 0
        assert "GET /api/v1/x" in raised.value.message
    finally:
        await client.close()


async def test_requests_beyond_the_connection_cap_wait_for_a_free_connection() -> None:
    in_flight, peers = 0, set()
    three, more = asyncio.Event(), asyncio.Event()
    release = asyncio.Event()

    async def handle(request: web.Request) -> web.Response:
        nonlocal in_flight
        in_flight += 1
        (three if in_flight == 3 else more if in_flight > 3 else asyncio.Event()).set()
        peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        await release.wait()
        in_flight -= 1
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    async with TestServer(app) as server:

        def login(_settings: kopf.OperatorSettings, _logger: logging.Logger) -> kopf.ConnectionInfo:
            return kopf.ConnectionInfo(server=str(server.make_url("/")))

        client = ApiClient(kopf.OperatorSettings(), LOG, connections=3, login=login)
        try:
            calls = [asyncio.create_task(client.request("GET", f"/api/v1/{i}")) for i in range(10)]
            await asyncio.wait_for(three.wait(), 10)
            # the other seven do not reach the server while the three are held
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(more.wait(), 0.5)
            release.set()
            assert [status for status, _ in await asyncio.gather(*calls)] == [200] * 10
            assert not more.is_set()
            assert len(peers) == 3  # the same three connections served all ten
        finally:
            await client.close()
