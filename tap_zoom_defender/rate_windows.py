"""Sliding-window logs, one per rate-limit category: at most N requests in any one-second span.

pyrate-limiter keeps the log: :class:`LocalWindow` in this process, :class:`SharedWindow` in the
``quota_state_path`` SQLite file for pipelines that pace together (``shared_rate_limits``).
:func:`rate_for` turns a requests-per-second budget into the window's limit, and
:class:`WindowMargin` says how much longer than a second the window is right now.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from pathlib import Path

from pyrate_limiter import InMemoryBucket, Rate, RateItem, SQLiteBucket

from tap_zoom_defender.quota_store import SQLITE_TIMEOUT_S

WINDOW_MARGIN_S = 0.05
"""Extra length of the counting window. The server sees arrival times, which trail our send times
by a jittery few milliseconds; without a margin an early request delayed more than a later one can
put budget+1 requests into one server-side second."""

MAX_WINDOW_MARGIN_S = 0.25
LATENESS_HALF_LIFE_S = 10.0
"""On a loaded machine threads wake late (CPU, GIL) and the send after ``acquire`` is late by as
much, so the margin widens to twice the recent worst oversleep (decaying with this half-life),
capped, and returns to the base when the machine calms down."""


class LocalWindow:
    """One category's sliding-window log in this process (pyrate-limiter ``InMemoryBucket``)."""

    def __init__(self, name: str, rate: Rate) -> None:
        self._name = name
        self._bucket = InMemoryBucket([rate])

    def try_take(self) -> float:
        """Take a slot now and return 0, or return the seconds until one frees up."""
        item = RateItem(self._name, int(time.monotonic() * 1000))
        if self._bucket.put(item):
            if len(self._bucket.items) > 4 * self._bucket.rates[0].limit + 64:
                self._bucket.leak(item.timestamp)
            return 0.0
        return max(self._bucket.waiting(item), 1) / 1000

    def set_rate(self, rate: Rate) -> None:
        """Change the limit; slots already taken keep counting."""
        self._bucket.rates = [rate]

    def close(self) -> None:
        """Nothing to release."""


class SharedWindow:
    """One category's sliding-window log in SQLite, shared by every process using the file.

    pyrate-limiter's ``SQLiteBucket`` keeps the log; ``BEGIN IMMEDIATE`` around its count-and-insert
    makes that atomic across processes without an extra file-lock dependency. Timestamps are wall
    clock (the only clock processes share).
    """

    _LEAK_EVERY = 256

    def __init__(self, name: str, rate: Rate, path: Path, table: str) -> None:
        self._name = name
        try:
            self._bucket = SQLiteBucket.init_from_file([rate], table=table, db_path=str(path))
            self._conn = self._bucket.conn
            self._conn.isolation_level = None  # we open the transactions ourselves
            self._conn.execute(f"PRAGMA busy_timeout = {int(SQLITE_TIMEOUT_S * 1000)}")
        except (OSError, sqlite3.Error) as exc:
            raise ValueError(f"quota_state_path: cannot use {str(path)!r} ({exc})") from exc
        self._puts = 0

    def try_take(self) -> float:
        """Take a slot now and return 0, or return the seconds until one frees up."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            item = RateItem(self._name, self._bucket.now())
            if self._bucket.put(item):  # commits
                self._puts += 1
                if self._puts % self._LEAK_EVERY == 0:
                    self._bucket.leak(item.timestamp)
                return 0.0
            return max(self._bucket.waiting(item), 1) / 1000
        finally:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")

    def set_rate(self, rate: Rate) -> None:
        """Change this process's limit on the shared window."""
        self._bucket.rates = [rate]

    def close(self) -> None:
        """Close the bucket's connection."""
        self._conn.close()


def rate_for(per_second: float, margin: float = WINDOW_MARGIN_S) -> Rate:
    """Return the pyrate-limiter rate: at most ``per_second`` in any (1 s + margin) window."""
    margin_ms = int(margin * 1000)
    if per_second >= 1:
        return Rate(math.floor(per_second + 1e-9), 1000 + margin_ms)
    # Below 1/s (Resource-intensive is per minute): evenly spaced single requests.
    return Rate(1, math.ceil(1000 / per_second) + margin_ms)


class WindowMargin:
    """The window margin for now: the base, or twice the recent worst lateness. Thread-safe."""

    def __init__(self) -> None:
        self._lateness = 0.0
        self._lateness_at = time.monotonic()
        self._lock = threading.Lock()

    def note_lateness(self, late: float, now: float) -> None:
        """Remember how late a thread woke: the decaying worst case sets the window margin."""
        with self._lock:
            decayed = self._lateness * 0.5 ** ((now - self._lateness_at) / LATENESS_HALF_LIFE_S)
            self._lateness = max(late, decayed)
            self._lateness_at = now

    def at(self, now: float) -> float:
        """Window margin for now: the base, or twice the recent worst lateness (10 ms steps)."""
        with self._lock:
            late = self._lateness * 0.5 ** ((now - self._lateness_at) / LATENESS_HALF_LIFE_S)
        return round(min(MAX_WINDOW_MARGIN_S, max(WINDOW_MARGIN_S, 2 * late)), 2)
