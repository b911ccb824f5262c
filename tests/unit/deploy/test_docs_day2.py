"""The day-2 pages of docs/ keep up with the code: a troubleshooting line per Ready reason
(operations.md), a pinned version in every helm command (README and docs), the supported
versions and the Go version the wrapper modules need (install.md), a LICENSE."""

from __future__ import annotations

import re
from pathlib import Path

from taskapi_operator import names

REPO = Path(__file__).resolve().parents[3]
DOCS = REPO / "docs"
PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]


def section(page: str, title: str) -> str:
    text = (DOCS / page).read_text()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"docs/{page} has no section '## {title}'"
    return match.group(1)


def test_troubleshooting_has_one_line_per_ready_reason() -> None:
    rows = re.findall(
        r"^\| `(\w+)`", section("operations.md", "Troubleshooting by Ready reason"), re.MULTILINE
    )
    assert len(rows) == len(set(rows)), rows
    known = set(names.READY_FALSE_REASONS) | {"Ready"}
    assert known <= set(rows), f"no troubleshooting line for {known - set(rows)}"
    assert set(rows) <= known, f"troubleshooting lines for unknown reasons {set(rows) - known}"


def test_every_helm_command_pins_a_chart_version() -> None:
    commands = [
        f"{page.name}: {line}"
        for page in PAGES
        for line in page.read_text().replace("\\\n", " ").splitlines()  # line continuations
        if re.match(r"^\s*helm (upgrade|install)\b", line)
    ]
    assert len(commands) >= 4, commands  # dapr, redis, the operator, its upgrade
    for line in commands:
        assert re.search(r"--version \d+\.\d+\.\d+", line), line


def test_supported_versions_name_every_component() -> None:
    table = section("install.md", "Supported versions")
    for component in ("Kubernetes", "Dapr", "Argo CD", "Python", "Go"):
        assert re.search(rf"^\| {re.escape(component)}\b", table, re.MULTILINE), component


def test_go_version_is_what_the_wrapper_modules_need() -> None:
    """The machine's Go must build every wrapper but those that name their own Go in a
    ``toolchain`` file (Argo CD's), which the row must then name too."""
    mods = list((REPO / "tools" / "binaries").glob("*/go.mod"))
    needed = max(
        tuple(int(p) for p in m.group(1).split("."))
        for mod in mods
        if not (mod.parent / "toolchain").is_file()
        if (m := re.search(r"^go (\d+\.\d+(?:\.\d+)?)$", mod.read_text(), re.MULTILINE))
    )
    row = re.search(r"^\| Go \(.*$", section("install.md", "Supported versions"), re.MULTILINE)
    assert row, "no Go row"
    assert f"{needed[0]}.{needed[1]} or later" in row.group(0), (needed, row.group(0))
    for mod in mods:
        if (mod.parent / "toolchain").is_file():
            pinned = (mod.parent / "toolchain").read_text().strip()
            assert pinned in row.group(0), (pinned, row.group(0))


def test_license_is_the_apache_license_pyproject_names() -> None:
    text = (REPO / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License")
    assert "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert 'license = { text = "Apache-2.0" }' in (REPO / "pyproject.toml").read_text()
