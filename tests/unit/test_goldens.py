"""The golden-file check can fail: a missing or different file fails, only UPDATE_GOLDEN=1
writes, and no test bypasses the one fixture with its own write-if-missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from goldens import UPDATE_VARIABLE, Golden

UNIT = Path(__file__).parent


def test_a_missing_golden_fails_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="missing"):
        Golden(tmp_path, update=False)("new.yaml", "a: 1\n")
    assert not (tmp_path / "new.yaml").exists()


def test_a_different_golden_fails_with_a_diff(tmp_path: Path) -> None:
    (tmp_path / "g.yaml").write_text("a: 1\n")
    with pytest.raises(pytest.fail.Exception, match=r"(?s)differs.*-a: 1.*\+a: 2"):
        Golden(tmp_path, update=False)("g.yaml", "a: 2\n")
    assert (tmp_path / "g.yaml").read_text() == "a: 1\n"


def test_an_equal_golden_passes(tmp_path: Path) -> None:
    (tmp_path / "g.yaml").write_text("a: 1\n")
    Golden(tmp_path, update=False)("g.yaml", "a: 1\n")


def test_update_writes_missing_and_different_files(tmp_path: Path) -> None:
    update = Golden(tmp_path / "golden", update=True)
    update("new.yaml", "a: 1\n")
    update("new.yaml", "a: 2\n")
    assert (tmp_path / "golden" / "new.yaml").read_text() == "a: 2\n"


def test_the_fixture_reads_the_variable_and_the_module_directory(golden: Golden) -> None:
    assert golden.directory == UNIT / "golden"
    assert golden.update is (os.environ.get(UPDATE_VARIABLE) == "1")


def test_no_test_writes_golden_files_itself() -> None:
    own = {UNIT / "goldens.py", UNIT / "conftest.py", Path(__file__)}
    for module in sorted(set(UNIT.rglob("*.py")) - own):
        text = module.read_text()
        assert "environ" not in text or UPDATE_VARIABLE not in text, f"{module}: use `golden`"
        assert "golden" not in text or ".write_text(" not in text, f"{module}: use `golden`"
