"""What each Dockerfile installs, installed here into a fresh venv (no container): the program's
hashed lock (`--require-hashes`, as the Dockerfile does), then the project without
dependencies. Each venv runs its own program and cannot import the other program's stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]
UV = Path(sys.executable).parent / "uv"
# extra -> (module the image's entrypoint imports, modules that must be missing)
PROGRAMS = {
    "app": (("taskapi.main", "notifier.main"), ("kopf", "kubernetes")),
    "operator": (("taskapi_operator.handlers",), ("fastapi", "dapr", "uvicorn", "starlette")),
}


def run(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="module", params=sorted(PROGRAMS))
def image_venv(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    extra: str = request.param
    assert UV.exists(), "uv missing: it comes with the dev extra"
    venv = tmp_path_factory.mktemp(f"venv-{extra}") / "venv"
    python = venv / "bin" / "python"
    for step in (
        (UV, "venv", "--quiet", "--python", sys.executable, venv),
        (
            UV,
            "pip",
            "install",
            "--quiet",
            "--python",
            python,
            "--require-hashes",
            "-r",
            REPO / "requirements" / f"{extra}.lock",
        ),
        (UV, "pip", "install", "--quiet", "--python", python, "--no-deps", REPO),
    ):
        result = run(*step)
        assert result.returncode == 0, f"{step}:\n{result.stderr[-3000:]}"
    return extra, python


def imports(python: Path, module: str) -> subprocess.CompletedProcess[str]:
    return run(python, "-c", f"import {module}")


def test_program_imports_and_other_stack_is_absent(image_venv: tuple[str, Path]) -> None:
    extra, python = image_venv
    own, foreign = PROGRAMS[extra]
    for module in own:
        result = imports(python, module)
        assert result.returncode == 0, f"{extra} venv cannot import {module}:\n{result.stderr}"
    for module in foreign:
        result = imports(python, module)
        assert result.returncode != 0, f"the {extra} venv can import {module}"
        assert "ModuleNotFoundError" in result.stderr, result.stderr


def test_pip_check_finds_the_lock_complete(image_venv: tuple[str, Path]) -> None:
    # the Dockerfiles run `pip check` too: a lock missing a dependency fails the build
    extra, python = image_venv
    result = run(UV, "pip", "check", "--python", python)
    assert result.returncode == 0, f"{extra}:\n{result.stdout}{result.stderr}"
