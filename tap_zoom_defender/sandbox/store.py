"""Per-day record cache and the paged scans the report endpoints run over it."""

from __future__ import annotations

import json
import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterator
from datetime import date, datetime, timezone

from .config import SandboxConfig
from .datagen import GENERATORS, Account, Record

# A scan position: (day ordinal, index into that day's newest-first records).
Cursor = tuple[int, int]


def utc_date(ts: float) -> date:
    """Return the UTC calendar date of epoch seconds."""
    return datetime.fromtimestamp(ts, timezone.utc).date()


class RecordStore:
    """Lazily generated report records, one UTC day at a time, under a memory bound.

    Days are generated on first use and evicted least-recently-used once the cache holds more
    than ``cfg.cache_records`` records; regenerating a day yields the same records, so eviction
    never changes what is served.
    """

    def __init__(self, cfg: SandboxConfig, account: Account, anchor: float) -> None:
        """Serve data from ``cfg.days`` days before the anchor date onwards."""
        self._cfg = cfg
        self._account = account
        self.first_day = utc_date(anchor).toordinal() - cfg.days
        self._cache: OrderedDict[tuple[str, int], tuple[list[int], list[Record]]] = OrderedDict()
        self._cached_records = 0
        self._lock = threading.Lock()
        self._gen_locks: dict[tuple[str, int], threading.Lock] = {}

    def day(self, kind: str, ordinal: int) -> tuple[list[int], list[Record]]:
        """(negated times, records newest first) of one day, generated on first use."""
        key = (kind, ordinal)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
            gen_lock = self._gen_locks.setdefault(key, threading.Lock())
        with gen_lock:
            with self._lock:
                hit = self._cache.get(key)
                if hit is not None:
                    return hit
            if ordinal < self.first_day:
                records: list[Record] = []
            else:
                records = GENERATORS[kind](self._cfg, self._account, date.fromordinal(ordinal))
            entry = ([-r[0] for r in records], records)
            with self._lock:
                self._cache[key] = entry
                self._cached_records += len(records)
                while self._cached_records > self._cfg.cache_records and len(self._cache) > 1:
                    _, (_, old) = self._cache.popitem(last=False)
                    self._cached_records -= len(old)
                self._gen_locks.pop(key, None)
            return entry

    def scan(
        self,
        kind: str,
        start: float,
        end: float,
        snap: float,
        category: str,
        cursor: Cursor | None,
        limit: int,
    ) -> tuple[list[bytes], Cursor | None]:
        """Up to ``limit`` records with start <= time < end visible at ``snap``, newest first.

        Returns the page and the position of the next matching record (None when there is
        none), so a page token is only handed out when another page really exists.
        """
        out: list[bytes] = []
        effective_end = min(end, int(snap) + 1)  # visible_at >= time, so later ones are hidden
        if effective_end <= start:
            return out, None
        low_day = max(self.first_day, utc_date(start).toordinal())
        if cursor is None:
            ordinal, idx = utc_date(effective_end - 1).toordinal(), -1
        else:
            ordinal, idx = cursor
        while ordinal >= low_day:
            neg_times, records = self.day(kind, ordinal)
            if idx < 0:
                idx = bisect_right(neg_times, -effective_end)
            n = len(records)
            while idx < n:
                t, vis, cat, body = records[idx]
                if t < start:
                    return out, None
                if vis <= snap and t < effective_end and (not category or cat == category):
                    if len(out) == limit:
                        return out, (ordinal, idx)
                    out.append(body)
                idx += 1
            ordinal, idx = ordinal - 1, -1
        return out, None

    def iter_ground_truth(self, kind: str, start: float, end: float, snap: float) -> Iterator[dict]:
        """Yield every record with start <= time < end visible at ``snap``, newest first.

        A generator, so a 1,000,000-event account can be compared without a million dicts.
        """
        cursor: Cursor | None = None
        while True:
            page, cursor = self.scan(kind, start, end, snap, "", cursor, 10_000)
            for body in page:
                yield json.loads(body)
            if cursor is None:
                return
