"""app/ talks to infrastructure only through Dapr: no client library imports (AST, not grep)."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[3] / "app"
FORBIDDEN = {"redis", "kafka", "confluent_kafka", "aiokafka", "httpx", "requests"}


def _imported_roots(tree: ast.AST) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and getattr(node.func, "id", getattr(node.func, "attr", ""))
            in {"__import__", "import_module"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            roots.add(node.args[0].value.split(".")[0])
    return roots


def test_app_modules_exist() -> None:
    modules = list(APP.rglob("*.py"))
    assert len(modules) >= 10


def test_no_module_under_app_imports_a_client_library() -> None:
    offenders = {
        str(path.relative_to(APP)): sorted(found)
        for path in sorted(APP.rglob("*.py"))
        if (found := _imported_roots(ast.parse(path.read_text(), str(path))) & FORBIDDEN)
    }
    assert offenders == {}


def test_the_checker_sees_every_import_form() -> None:
    source = "import redis.client\nfrom httpx import get\nimportlib.import_module('aiokafka')\n"
    assert _imported_roots(ast.parse(source)) >= {"redis", "httpx", "aiokafka"}
