"""Append-only JSON Lines files that are durable when ``append`` returns.

Shared by the jsonl destination (the table files) and the dead-letter files. Appends are whole
batches, flushed and fsynced; a failed append is cut back to the previous length, and a torn last
line left by a killed earlier run is cut off before the first append, so a reader never sees a
half-written row.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_log = logging.getLogger(__name__)


def encode_lines(rows: Iterable[dict[str, Any]]) -> bytes:
    """One compact JSON object per line, UTF-8 (names and addresses stay readable)."""
    return b"".join(
        json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        for row in rows
    )


def _fsync_dir(directory: Path) -> None:
    """Make a newly created file's directory entry durable too (POSIX)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class DurableAppender:
    """Serialises appends per file across sink threads and repairs torn tails once."""

    def __init__(self) -> None:
        """Start with no file checked yet."""
        self._guard = threading.Lock()
        self._locks: dict[Path, threading.Lock] = {}
        self._checked: set[Path] = set()

    def _lock_for(self, path: Path) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(path, threading.Lock())

    def _repair_tail(self, path: Path) -> None:
        """Drop a partial last line (a kill mid-write); its rows were never acknowledged."""
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return
        if size == 0:
            return
        with path.open("rb+") as handle:
            handle.seek(size - 1)
            if handle.read(1) == b"\n":
                return
            # Walk back to the last complete line.
            chunk = 65536
            end = size
            keep = 0
            while end > 0:
                start = max(0, end - chunk)
                handle.seek(start)
                data = handle.read(end - start)
                idx = data.rfind(b"\n")
                if idx >= 0:
                    keep = start + idx + 1
                    break
                end = start
            handle.truncate(keep)
            handle.flush()
            os.fsync(handle.fileno())
        _log.warning(
            "Removed %d bytes of a partly written row from %s (left by an interrupted run; "
            "those rows were never acknowledged and are sent again)",
            size - keep,
            path,
        )

    def append(self, path: Path, data: bytes) -> None:
        """Append ``data`` and fsync; on failure restore the file's previous length, re-raise."""
        with self._lock_for(path):
            if path not in self._checked:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._repair_tail(path)
                self._checked.add(path)
            created = not path.exists()
            with path.open("ab") as handle:
                before = handle.tell()
                try:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                except OSError:
                    try:
                        handle.truncate(before)
                    except OSError:
                        pass
                    raise
            if created:
                _fsync_dir(path.parent)
