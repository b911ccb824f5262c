"""compact(): equal copies that share their strings, with a bounded table of values."""

from __future__ import annotations

import json

from taskapi_operator import compact as module
from taskapi_operator.compact import compact


def _parsed() -> list[dict[str, object]]:
    text = json.dumps({"spec": {"ports": [{"protocol": "TCP", "name": "http"}]}, "n": 1})
    return [json.loads(text) for _ in range(2)]  # separate string objects, as from the wire


def test_a_compact_copy_is_equal_and_shares_keys_and_short_values() -> None:
    a, b = (compact(o) for o in _parsed())
    assert a == b == _parsed()[0]
    port_a, port_b = a["spec"]["ports"][0], b["spec"]["ports"][0]  # type: ignore[index]
    assert port_a["protocol"] is port_b["protocol"]
    assert next(iter(port_a)) is next(iter(port_b))  # the key "protocol"


def test_long_values_and_a_full_table_are_left_alone() -> None:
    long = "x" * 100
    assert compact([long])[0] is long
    saved = dict(module._values)
    try:
        module._values.update({str(i): str(i) for i in range(module._MAX_VALUES)})
        fresh = "".join(["not", "-shared"])
        assert compact([fresh]) == [fresh]
        assert fresh not in module._values  # bounded: unique strings cannot grow it
    finally:
        module._values.clear()
        module._values.update(saved)
