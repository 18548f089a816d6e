"""Report windows and the incremental state of the report streams.

Zoom's report endpoints take whole days (``from``/``to``), at most a month per request, serve the
newest records first and give records no id. So a sync is planned as a list of
:class:`Window` s, oldest first, each an independent unit of fetching:

* a window's *core* is a half-open time range ``[start, end)`` cut at UTC midnights; only
  records whose ``time`` falls in the core are kept, so neighbouring windows never share one;
* its *request* asks for the core's days padded by one day on each side (Zoom may cut days in
  the account's time zone), clamped to the retention floor and to tomorrow.

:class:`IncrementalState` is the stream's state entry, managed explicitly instead of by the SDK:

* ``replication_key_value`` (the *bookmark*) only moves to the end of a window once that window
  and every window before it are completely emitted, so an interrupted sync resumes at the first
  unfinished window and the state never covers data that was not emitted;
* ``seen`` holds ``event_id -> time`` of emitted records whose time is at or after
  ``bookmark - late_arrival_hours``. The next sync starts that far before the bookmark (picking up
  late arrivals) and skips ids in ``seen`` (so nothing is emitted twice). Older ids are pruned,
  which bounds the state by the number of events in the late-arrival window.

``event_id`` is a hash of the record's documented fields; identical records in a window get an
occurrence index (0, 1, ...) so two truly identical sign-ins are not collapsed into one.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from tap_zoom_defender import zoom_limits
from tap_zoom_defender.errors import MalformedResponseError, StateError

ONE_DAY = timedelta(days=1)
MAX_WINDOW_DAYS = zoom_limits.REPORT_MAX_RANGE_DAYS - 3
"""Core days per window such that the padded request (+1 day each side, inclusive) fits."""

EVENT_ID_HEX_CHARS = 32  # 128 bits: collisions are not a practical concern


def utc_now() -> datetime:
    """Return the current time (UTC, aware); one function so the module agrees on "now"."""
    return datetime.now(timezone.utc)


def parse_time(value: object, *, what: str) -> datetime:
    """Parse a Zoom/ISO-8601 timestamp to an aware UTC datetime; ``what`` names its source."""
    if not isinstance(value, str) or not value:
        raise MalformedResponseError(f"{what} has no usable time value ({value!r})")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedResponseError(f"{what} has an unparseable time {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def format_time(moment: datetime) -> str:
    """Render a bookmark the way Zoom renders times (``2026-01-02T03:04:05Z``)."""
    text = moment.astimezone(timezone.utc).isoformat()
    return text.replace("+00:00", "Z")


def _midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Window:
    """One unit of fetching: records with ``start <= time < end``, from padded whole days."""

    start: datetime
    end: datetime
    from_date: date
    to_date: date

    def contains(self, moment: datetime) -> bool:
        """Return True if a record at ``moment`` belongs to this window's core."""
        return self.start <= moment < self.end

    def __str__(self) -> str:
        """Short form for log lines."""
        core = f"{format_time(self.start)}..{format_time(self.end)}"
        return f"{core} (days {self.from_date}..{self.to_date})"


def plan_windows(
    start: datetime, end: datetime, *, window_days: int, now: datetime | None = None
) -> list[Window]:
    """Cut ``[start, end)`` into windows of at most ``window_days`` UTC days, oldest first."""
    if not 1 <= window_days <= MAX_WINDOW_DAYS:
        raise ValueError(f"window_days must be between 1 and {MAX_WINDOW_DAYS}")
    now = now or utc_now()
    floor = (now - timedelta(days=zoom_limits.REPORT_RETENTION_DAYS)).date()
    ceiling = (now + ONE_DAY).date()
    windows: list[Window] = []
    cursor = start
    while cursor < end:
        boundary = _midnight(cursor) + timedelta(days=window_days)
        core_end = min(boundary, end)
        last_day = (core_end - timedelta(microseconds=1)).date()
        from_date = max(cursor.date() - ONE_DAY, floor)
        to_date = min(last_day + ONE_DAY, ceiling)
        windows.append(Window(cursor, core_end, from_date, max(to_date, from_date)))
        cursor = core_end
    return windows


def sync_range(
    bookmark: datetime | None,
    *,
    now: datetime,
    lookback_days: float,
    start_date: datetime | None,
    late_arrival: timedelta,
) -> tuple[datetime, datetime]:
    """Return ``[start, end)`` of this sync.

    First sync: ``start_date`` if set, else ``lookback_days`` before now. Later syncs: the bookmark
    minus the late-arrival allowance. Never earlier than Zoom's retention (the config check
    rejects settings that would ask for more; an old bookmark just loses what Zoom deleted).
    """
    if bookmark is not None:
        start = bookmark - late_arrival
    elif start_date is not None:
        start = start_date
    else:
        start = now - timedelta(days=lookback_days)
    floor = now - timedelta(days=zoom_limits.REPORT_RETENTION_DAYS)
    return max(start, floor), now


def event_key(record: dict[str, Any], fields: Iterable[str], occurrence: int) -> str:
    """Stable content-derived id: hash of the record's documented fields + occurrence index.

    Only the documented fields take part, so a field Zoom adds later does not change the ids of
    records already delivered. Key order and JSON spacing are canonical.
    """
    canonical = json.dumps(
        {name: record.get(name) for name in fields},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    digest = hashlib.sha256(f"{canonical}#{occurrence}".encode())
    return digest.hexdigest()[:EVENT_ID_HEX_CHARS]


class OccurrenceKeyer:
    """Assigns ``event_id`` within one window: identical records get occurrence 0, 1, 2, ..."""

    def __init__(self, fields: Iterable[str]) -> None:
        """``fields`` are the documented record fields that define identity."""
        self._fields = tuple(fields)
        self._counts: Counter[str] = Counter()

    def reset(self) -> None:
        """Forget counts (when a window's listing restarts from its first page)."""
        self._counts.clear()

    def assign(self, record: dict[str, Any]) -> dict[str, Any]:
        """Set ``record["event_id"]`` and return the record."""
        base = event_key(record, self._fields, 0)
        occurrence = self._counts[base]
        self._counts[base] += 1
        record["event_id"] = (
            base if occurrence == 0 else event_key(record, self._fields, occurrence)
        )
        return record


class IncrementalState:
    """The stream's bookmark and bounded dedupe set, living inside the SDK's state dict.

    The dict is the SDK's own stream state entry, so every STATE message the SDK writes (also on
    SIGTERM) carries exactly what has been emitted so far.
    """

    def __init__(self, state: MutableMapping[str, Any], *, late_arrival: timedelta, name: str):
        """Adopt (and validate) the state entry of stream ``name``."""
        self._state = state
        self._late = late_arrival
        self._name = name
        raw_seen = state.get("seen") or {}
        if not isinstance(raw_seen, dict):
            raise StateError(f"state for stream {name}: 'seen' must be an object; fix or drop it")
        self._seen: dict[str, str] = raw_seen
        state["seen"] = self._seen
        state["replication_key"] = "time"
        self._bookmark: datetime | None = None
        value = state.get("replication_key_value")
        if value:
            try:
                self._bookmark = parse_time(value, what=f"state for stream {name}")
            except MalformedResponseError as exc:
                raise StateError(f"{exc}: fix or drop the bookmark") from None

    @property
    def bookmark(self) -> datetime | None:
        """Everything before this was emitted (late arrivals aside); None before the first sync."""
        return self._bookmark

    def is_seen(self, record: dict[str, Any]) -> bool:
        """Return True if this record's ``event_id`` was emitted by this or an earlier sync."""
        return record["event_id"] in self._seen

    def mark_emitted(self, record: dict[str, Any]) -> None:
        """Remember an emitted record (call only after it was handed to the SDK)."""
        self._seen[record["event_id"]] = record["time"]

    def complete(self, window: Window) -> None:
        """Advance the bookmark past ``window`` (it and all before it are emitted); prune."""
        if self._bookmark is not None and window.end <= self._bookmark:
            return
        self._bookmark = window.end
        self._state["replication_key_value"] = format_time(window.end)
        cutoff = window.end - self._late
        stale = [
            key
            for key, value in self._seen.items()
            if parse_time(value, what=f"state for stream {self._name}") < cutoff
        ]
        for key in stale:
            del self._seen[key]
