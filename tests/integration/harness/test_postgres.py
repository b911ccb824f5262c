"""daprd with the state.postgresql v2 store on the harness's real PostgreSQL server.

Proves the build carries the component and what the Task API relies on from it: save, read,
a multi-key transaction, and an ETag conflict that rejects the WHOLE transaction (unlike
state.redis, where the other operations of a rejected transaction are still applied).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.dapr import Daprd
from harness.postgres import PostgresServer
from harness.redis import RedisServer

pytestmark = pytest.mark.integration


def _call(method: str, url: str, body: Any = None) -> tuple[int, bytes, dict[str, str]]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(  # noqa: S310 - loopback
        url,
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:  # noqa: S310 - loopback
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)


def test_daprd_postgresql_v2_state_transactions_and_etags(
    tmp_path: Path, postgres_server: PostgresServer, dapr_configuration: Path
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    table = postgres_server.state_table(prefix)
    postgres_server.write_statestore(
        tmp_path / "resources" / "statestore.yaml", table_prefix=prefix
    )
    app_id = f"pg-smoke-{uuid.uuid4().hex[:6]}"
    with Daprd(app_id, None, tmp_path / "resources", tmp_path, config=dapr_configuration) as daprd:
        state = f"{daprd.http_url}/v1.0/state/statestore"
        meta = daprd.metadata()
        assert {"name": "statestore", "type": "state.postgresql", "version": "v2"} in [
            {k: c[k] for k in ("name", "type", "version")} for c in meta["components"]
        ]

        status, _, _ = _call("POST", state, [{"key": "a", "value": {"n": 1}}])
        assert status == 204
        status, body, headers = _call("GET", f"{state}/a")
        assert (status, json.loads(body)) == (200, {"n": 1})
        etag = headers["Etag"]
        # the row is really in PostgreSQL, in the table we named, keyed "<app-id>||<key>"
        query = f"SELECT convert_from(value, 'UTF8')::jsonb->>'n' FROM {table} WHERE key = $k$"  # noqa: S608
        assert postgres_server.sql(f"{query}{app_id}||a$k$") == "1"

        # a transaction over two keys commits both
        status, _, _ = _call(
            "POST",
            f"{state}/transaction",
            {
                "operations": [
                    {
                        "operation": "upsert",
                        "request": {"key": "a", "value": {"n": 2}, "etag": etag},
                    },
                    {"operation": "upsert", "request": {"key": "b", "value": {"n": 20}}},
                ]
            },
        )
        assert status == 204
        assert json.loads(_call("GET", f"{state}/b")[1]) == {"n": 20}

        # a stale ETag is a conflict on a single save...
        status, _, _ = _call("POST", state, [{"key": "a", "value": {"n": 99}, "etag": etag}])
        assert status == 409
        # ...and rejects the whole transaction: "c" is not written, "b" not deleted
        status, _, _ = _call(
            "POST",
            f"{state}/transaction",
            {
                "operations": [
                    {"operation": "upsert", "request": {"key": "c", "value": {"n": 30}}},
                    {"operation": "delete", "request": {"key": "b"}},
                    {
                        "operation": "upsert",
                        "request": {"key": "a", "value": {"n": 3}, "etag": etag},
                    },
                ]
            },
        )
        assert status >= 400
        assert _call("GET", f"{state}/c")[0] == 204  # absent
        assert json.loads(_call("GET", f"{state}/b")[1]) == {"n": 20}
        assert json.loads(_call("GET", f"{state}/a")[1]) == {"n": 2}
        assert postgres_server.sql(f"SELECT count(*) FROM {table}") == "2"  # noqa: S608


def _rejected_transaction(state: str) -> tuple[int, dict[str, Any]]:
    """Run the same rejected transaction as above; return its status and what is stored."""
    _call("POST", state, [{"key": "a", "value": {"n": 1}}, {"key": "b", "value": {"n": 20}}])
    stale = _call("GET", f"{state}/a")[2]["Etag"]
    _call("POST", state, [{"key": "a", "value": {"n": 2}}])  # moves a's ETag on
    status, _, _ = _call(
        "POST",
        f"{state}/transaction",
        {
            "operations": [
                {"operation": "upsert", "request": {"key": "c", "value": {"n": 30}}},
                {"operation": "delete", "request": {"key": "b"}},
                {"operation": "upsert", "request": {"key": "a", "value": {"n": 3}, "etag": stale}},
            ]
        },
    )
    stored = {}
    for key in ("a", "b", "c"):
        code, body, _ = _call("GET", f"{state}/{key}")
        stored[key] = json.loads(body) if code == 200 else None
    return status, stored


def test_redis_transaction_with_a_rejected_etag_is_half_applied(
    tmp_path: Path, redis_server: RedisServer, dapr_configuration: Path
) -> None:
    """The contrast docs/task-api.md's store guarantees rest on: on state.redis (daprd 1.17) the
    transaction is reported failed, yet its other operations are applied."""
    resources = tmp_path / "resources"
    resources.mkdir()
    (resources / "statestore.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "dapr.io/v1alpha1",
                "kind": "Component",
                "metadata": {"name": "statestore"},
                "spec": {
                    "type": "state.redis",
                    "version": "v1",
                    "metadata": [{"name": "redisHost", "value": redis_server.address}],
                },
            }
        )
    )
    app_id = f"redis-tx-{uuid.uuid4().hex[:6]}"
    with Daprd(app_id, None, resources, tmp_path, config=dapr_configuration) as daprd:
        status, stored = _rejected_transaction(f"{daprd.http_url}/v1.0/state/statestore")
    print(f"state.redis: rejected transaction answered {status}; stored after it: {stored}")
    assert status >= 400
    assert stored["a"] == {"n": 2}  # the ETag-checked write itself was not applied...
    assert stored["c"] == {"n": 30}  # ...but the transaction's other writes were
    assert stored["b"] is None


def test_postgresql_transaction_with_a_rejected_etag_changes_nothing(
    tmp_path: Path, postgres_server: PostgresServer, dapr_configuration: Path
) -> None:
    postgres_server.write_statestore(tmp_path / "resources" / "statestore.yaml")
    app_id = f"pg-tx-{uuid.uuid4().hex[:6]}"
    with Daprd(app_id, None, tmp_path / "resources", tmp_path, config=dapr_configuration) as daprd:
        status, stored = _rejected_transaction(f"{daprd.http_url}/v1.0/state/statestore")
    print(f"state.postgresql v2: rejected transaction answered {status}; stored: {stored}")
    assert status >= 400
    assert stored == {"a": {"n": 2}, "b": {"n": 20}, "c": None}
