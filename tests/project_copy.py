"""A throwaway copy of the Meltano project for tests that run Meltano against the sandbox.

``meltano.yml`` and the files its ``include_paths`` name are copied (a test may change them);
the installed plugins are linked, so nothing is installed again.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]


def copy_project(
    dest: Path,
    *,
    plugin_kinds: Iterable[str] = ("extractors", "loaders"),
    trees: Iterable[str] = (),
    link_venv: bool = True,
) -> Path:
    """Copy the project's Meltano files (and ``trees``) to ``dest``; link plugins (and .venv)."""
    dest.mkdir(parents=True)
    shutil.copy2(PROJECT / "meltano.yml", dest / "meltano.yml")
    config = yaml.safe_load((PROJECT / "meltano.yml").read_text()) or {}
    for pattern in config.get("include_paths") or []:
        for path in PROJECT.glob(pattern):
            target = dest / path.relative_to(PROJECT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    for tree in trees:
        shutil.copytree(
            PROJECT / tree,
            dest / tree,
            ignore=shutil.ignore_patterns("node_modules", "__pycache__"),
            dirs_exist_ok=True,
        )
    (dest / ".meltano").mkdir()
    for kind in plugin_kinds:
        (dest / ".meltano" / kind).symlink_to(PROJECT / ".meltano" / kind)
    if link_venv:
        (dest / ".venv").symlink_to(PROJECT / ".venv")
    return dest
