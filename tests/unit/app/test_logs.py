"""Logging configured once per process: one line per record, text or JSON lines."""

from __future__ import annotations

import json
import logging

import pytest

from dapr_sidecar import logs


@pytest.fixture(autouse=True)
def _restore_root() -> object:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield None
    root.handlers[:], root.level = saved[0], saved[1]


def _emit(capsys: pytest.CaptureFixture[str], fmt: str) -> list[str]:
    logs.configure("info", fmt)
    log = logging.getLogger("taskapi.subscriber")
    log.info("Received event: %s for task %s", "task.completed", "abc")
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        log.exception("Notification failed task=%s", "abc")
    return capsys.readouterr().err.splitlines()


def test_json_lines_one_object_per_record(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _emit(capsys, "json")
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["msg"] == "Received event: task.completed for task abc"
    assert first["level"] == "info"
    assert first["logger"] == "taskapi.subscriber"
    assert "boom" in second["error"]


def test_text_keeps_a_traceback_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _emit(capsys, "text")
    assert len(lines) == 2
    assert lines[0].endswith("taskapi.subscriber Received event: task.completed for task abc")
    assert "\\n" in lines[1]


def test_configuring_twice_keeps_one_handler() -> None:
    logs.configure("info", "text")
    logs.configure("debug", "json")
    root = logging.getLogger()
    assert len(root.handlers) == 1
    assert isinstance(root.handlers[0].formatter, logs.JsonLines)
    assert root.level == logging.DEBUG
