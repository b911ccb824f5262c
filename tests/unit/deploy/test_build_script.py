"""tools/binaries/build.sh can build every tool it has a wrapper for. A warm binary cache hides a
missing build function (the cache key still matches, nothing is built), so a clean machine is
the first to find it: this test finds it first."""

from __future__ import annotations

import re
import subprocess

from harness.repo import REPO

BINARIES = REPO / "tools" / "binaries"
SCRIPT = BINARIES / "build.sh"


def tools() -> list[str]:
    return sorted(
        d.name for d in BINARIES.iterdir() if (d / "go.mod").is_file() or (d / "wrapper").is_file()
    )


def test_every_wrapper_has_a_build_function() -> None:
    defined = set(re.findall(r"^build_(\w+)\(\) \{", SCRIPT.read_text(), re.MULTILINE))
    missing = [t for t in tools() if t.replace("-", "_") not in defined]
    assert not missing, f"build.sh has no build_<tool> for {missing}"


def test_every_wrapper_file_names_a_module_directory() -> None:
    for tool in tools():
        wrapper = BINARIES / tool / "wrapper"
        if wrapper.is_file():
            target = BINARIES / wrapper.read_text().strip()
            assert (target / "go.mod").is_file(), f"{tool}/wrapper names {target}, no go.mod there"


def test_the_script_parses() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
