"""The docs: settings tables are what the plugins' ``--about`` prints; relative links resolve."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_settings_tables_in_docs_are_current():
    done = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "generate.py"), "--check"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_relative_link_in_the_docs_points_at_a_file():
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_the_readmes_hashing_commands_are_the_tested_ones():
    """README's stream-map block is docs/operations.md's, which tests/meltano runs as written."""
    marker = "<!-- tested by tests/meltano/test_stream_maps.py: the block runs as written -->\n"
    blocks = []
    for page in (ROOT / "README.md", ROOT / "docs" / "operations.md"):
        text = page.read_text(encoding="utf-8")
        start = text.index(marker) + len(marker)
        blocks.append(text[start : text.index("```\n", start + 4)])
    assert blocks[0] == blocks[1]
