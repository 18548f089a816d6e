"""A small persisted email -> display name map, learnt from the users stream.

tap-zoom-defender emits ``users`` before the events, so within one run every event row already
finds its account's name here (the first run included). Why it is also persisted: a run may
deselect ``users`` (its names then come from the last run that had them), and another tap or an
older tap-zoom-defender may send users after the events, which then get their names from the
next run on. The file holds names and addresses only (no secrets) and is replaced atomically so
a kill never leaves it half-written.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FILE_NAME = "zoom_account_names.json"

_log = logging.getLogger(__name__)


class AccountNames:
    """Thread-safe map with an explicit, durable ``save()``."""

    def __init__(self, directory: Path) -> None:
        """Load the map an earlier run saved in ``directory`` (empty when there is none)."""
        self.path = directory / FILE_NAME
        self._lock = threading.Lock()
        self._names: dict[str, str] = {}
        self._dirty = False
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                self._names = {
                    str(k).casefold(): str(v) for k, v in loaded.items() if isinstance(v, str)
                }
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            # A damaged cache only costs display names; say so and start over.
            _log.warning("Ignoring unreadable %s (%s); it will be rewritten", self.path, exc)

    def get(self, email: str | None) -> str | None:
        """Display name for ``email`` (case-insensitive), if a users record named it."""
        if not isinstance(email, str):
            return None
        with self._lock:
            return self._names.get(email.casefold())

    def learn(self, email: Any, name: str | None) -> None:
        """Remember a user's name (kept in memory until ``save``)."""
        if not isinstance(email, str) or not email or not name:
            return
        key = email.casefold()
        with self._lock:
            if self._names.get(key) != name:
                self._names[key] = name
                self._dirty = True

    def save(self) -> None:
        """Write the map durably (temp file, fsync, rename) if it changed."""
        with self._lock:
            if not self._dirty:
                return
            snapshot: Mapping[str, str] = dict(self._names)
            self._dirty = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(snapshot, handle, ensure_ascii=False, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(self.path)
