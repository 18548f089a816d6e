"""The daily-quota store: today's Heavy request count and Zoom's daily-limit lockouts, in SQLite.

One small file (``quota_state_path``) shared by every run and every pipeline of the same account
on this machine, so the daily budget holds across them. It holds no secrets.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import datetime
from pathlib import Path

from tap_zoom_defender.retry_after import parse_http_datetime

SQLITE_TIMEOUT_S = 30.0
"""How long a connection waits for another process holding the file's write lock."""


def _set_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL once, retrying while another process holds it.

    Changing the journal mode needs the file to itself and SQLite may answer "database is
    locked" at once instead of waiting for the busy timeout, which made a second pipeline that
    opened the same fresh file at the same moment fail. Once the file is in WAL mode (it stays
    so), nothing is switched any more.
    """
    deadline = time.monotonic() + SQLITE_TIMEOUT_S
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class QuotaStore:
    """Today's Heavy request count and Zoom daily-limit lockouts, in SQLite.

    SQLite because it is in the standard library, survives the process, and ``BEGIN IMMEDIATE``
    makes check-and-increment atomic across processes, so two pipelines sharing the file can never
    both spend the last request.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                str(path), timeout=SQLITE_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            _set_wal(self._conn)
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS daily_usage ("
                "scope TEXT NOT NULL, day TEXT NOT NULL, used INTEGER NOT NULL, "
                "PRIMARY KEY (scope, day))"
            )
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS lockout ("
                "scope TEXT NOT NULL, grp TEXT NOT NULL, until TEXT NOT NULL, "
                "PRIMARY KEY (scope, grp))"
            )
        except (OSError, sqlite3.Error) as exc:
            raise ValueError(f"quota_state_path: cannot use {str(path)!r} ({exc})") from exc
        self._lock = threading.Lock()

    def spend(self, scope: str, day: str, budget: int) -> int | None:
        """Atomically take one request from today's budget; return the count, or None if spent."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                row = self._conn.execute(
                    "SELECT used FROM daily_usage WHERE scope = ? AND day = ?", (scope, day)
                ).fetchone()
                used = row[0] if row else 0
                if used >= budget:
                    self._conn.execute("ROLLBACK")
                    return None
                self._conn.execute(
                    "INSERT INTO daily_usage (scope, day, used) VALUES (?, ?, 1) "
                    "ON CONFLICT (scope, day) DO UPDATE SET used = used + 1",
                    (scope, day),
                )
                # Yesterday's rows are dead weight; drop them while we hold the write lock.
                self._conn.execute("DELETE FROM daily_usage WHERE day < ?", (day,))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            return used + 1

    def refund(self, scope: str, day: str) -> None:
        """Give back one request Zoom rejected (a per-second 429 is not counted by Zoom)."""
        with self._lock:
            self._conn.execute(
                "UPDATE daily_usage SET used = used - 1 WHERE scope = ? AND day = ? AND used > 0",
                (scope, day),
            )

    def used(self, scope: str, day: str) -> int:
        """Return how many budgeted requests were spent on ``day`` (UTC, ``YYYY-MM-DD``)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT used FROM daily_usage WHERE scope = ? AND day = ?", (scope, day)
            ).fetchone()
        return row[0] if row else 0

    def lockout(self, scope: str, group: str) -> datetime | None:
        """Return until when Zoom said this category group is out of daily quota, if recorded."""
        with self._lock:
            row = self._conn.execute(
                "SELECT until FROM lockout WHERE scope = ? AND grp = ?", (scope, group)
            ).fetchone()
        return parse_http_datetime(row[0]) if row else None

    def set_lockout(self, scope: str, group: str, until: datetime, now: datetime) -> None:
        """Remember a Zoom daily-limit lockout so the next run the same day does not retry."""
        with self._lock:
            self._conn.execute("DELETE FROM lockout WHERE until < ?", (now.isoformat(),))
            self._conn.execute(
                "INSERT INTO lockout (scope, grp, until) VALUES (?, ?, ?) "
                "ON CONFLICT (scope, grp) DO UPDATE SET until = excluded.until",
                (scope, group, until.isoformat()),
            )

    def close(self) -> None:
        """Close the connection (tests and short-lived tools; the tap just exits)."""
        with self._lock:
            self._conn.close()
