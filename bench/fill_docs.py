"""Write the figures of ``bench/results/latest.json`` into the docs' bench markers.

A marker is ``<!-- bench: KEY -->`` followed by the value and ``<!-- /bench -->``; running this
again after a new ``make bench`` replaces the old value, so the docs never quote stale numbers
silently. Usage: ``python bench/fill_docs.py docs/operations.md``.
"""

import json
import re
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
MARKER = re.compile(r"<!-- bench: ([\w-]+) -->(?:(.*?)<!-- /bench -->)?")


def formatted(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
    return "not measured"


def fill(text: str, figures: dict[str, object]) -> str:
    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        return f"<!-- bench: {key} -->{formatted(figures.get(key))}<!-- /bench -->"

    return MARKER.sub(replace, text)


def main(paths: list[str]) -> int:
    figures: dict[str, object] = json.loads(RESULTS.read_text())
    for name in paths:
        path = Path(name)
        path.write_text(fill(path.read_text(), figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
