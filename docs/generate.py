"""Regenerate the settings tables in docs/ from the plugins' own ``--about`` output.

The tables between ``<!-- generated: COMMAND --about -->`` and ``<!-- /generated -->`` are the
"Settings" tables that ``tap-zoom-defender --about --format=markdown`` and ``target-defender
--about --format=markdown`` print, so they cannot drift from the code. Never edit them by hand:

    .venv/bin/python docs/generate.py          # rewrite the tables
    .venv/bin/python docs/generate.py --check  # exit 1 if a table is stale (the tests run this)
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
MARKED = re.compile(
    r"(<!-- generated: (?P<command>[\w-]+) --about -->\n)(?P<body>.*?)(<!-- /generated -->)",
    re.DOTALL,
)


def settings_table(command: str) -> str:
    """Return the table under ``## Settings`` in ``COMMAND --about --format=markdown``."""
    about = subprocess.run(
        [str(BIN / command), "--about", "--format=markdown"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    section = about.split("## Settings", 1)[1]
    rows = [line for line in section.strip().splitlines() if line.startswith("|")]
    return "\n".join(rows) + "\n"


def regenerate(text: str, tables: dict[str, str]) -> str:
    """Return ``text`` with every marked table replaced by its command's current table."""

    def replace(match: re.Match) -> str:
        command = match.group("command")
        if command not in tables:
            tables[command] = settings_table(command)
        return match.group(1) + tables[command] + match.group(4)

    return MARKED.sub(replace, text)


def main(argv: list[str]) -> int:
    """Rewrite (or with --check, compare) every doc that holds a marked table."""
    check = "--check" in argv
    tables: dict[str, str] = {}
    stale = []
    for path in sorted(DOCS.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        if not MARKED.search(text):
            continue
        fresh = regenerate(text, tables)
        if fresh != text:
            stale.append(path.name)
            if not check:
                path.write_text(fresh, encoding="utf-8")
    if check and stale:
        print(f"stale settings tables in {', '.join(stale)}: run python docs/generate.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
