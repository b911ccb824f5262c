"""The one golden-file check of the unit tests: a missing or different file fails the test,
and only UPDATE_GOLDEN=1 writes the files (so a lost golden or a new case cannot pass)."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

UPDATE_VARIABLE = "UPDATE_GOLDEN"


class Golden:
    """Compares rendered text with ``<directory>/<name>``; rewrites the file when ``update``."""

    def __init__(self, directory: Path, *, update: bool) -> None:
        self.directory = directory
        self.update = update

    def __call__(self, name: str, rendered: str) -> None:
        path = self.directory / name
        if self.update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(rendered)
            return
        hint = f"if the change is intended, rerun with {UPDATE_VARIABLE}=1 and review the diff"
        if not path.exists():
            pytest.fail(f"golden file {path} is missing; {hint}", pytrace=False)
        expected = path.read_text()
        if rendered != expected:
            diff = difflib.unified_diff(
                expected.splitlines(keepends=True),
                rendered.splitlines(keepends=True),
                fromfile=f"{path} (golden)",
                tofile="rendered",
            )
            pytest.fail(f"{path} differs; {hint}\n{''.join(list(diff)[:80])}", pytrace=False)
