"""Prints line and branch coverage apart from a coverage JSON report (coverage's own table
shows only their blend), in total and for the files a glob names."""

from __future__ import annotations

import argparse
import fnmatch
import json
from pathlib import Path
from typing import Any


def _figures(summary: dict[str, Any]) -> str:
    lines, statements = summary["covered_lines"], summary["num_statements"]
    branches, total = summary["covered_branches"], summary["num_branches"]
    return (
        f"lines {100 * lines / max(statements, 1):5.1f}% ({lines}/{statements})  "
        f"branches {100 * branches / max(total, 1):5.1f}% ({branches}/{total})  "
        f"total {summary['percent_covered']:5.1f}%"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("report", type=Path, help="coverage JSON (pytest --cov-report=json:...)")
    parser.add_argument("label", help="what was run, e.g. 'unit tests'")
    parser.add_argument("--files", action="append", default=[], help="glob of files to list")
    args = parser.parse_args()
    data = json.loads(args.report.read_text())
    print(f"coverage, {args.label}: {_figures(data['totals'])}")
    for pattern in args.files:
        for name, entry in sorted(data["files"].items()):
            if fnmatch.fnmatch(name, pattern):
                print(f"  {name}: {_figures(entry['summary'])}")


if __name__ == "__main__":
    main()
