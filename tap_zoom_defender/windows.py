"""Report windows and the incremental state of the report streams.

Zoom's report endpoints take whole days (``from``/``to``), at most a month per request, serve the
newest records first and give records no id. So a sync is planned as a list of
:class:`Window` s, oldest first:

* a window's *core* is a half-open time range ``[start, end)`` cut at UTC midnights; a record
  belongs to the window whose core holds its ``time``, so every record has exactly one window;
* its *request* asks for the core's days, and only the outer edges of the sync range are padded
  (one day before the first window, one day after the last, clamped to the retention floor and
  to tomorrow): every day is requested ONCE. Zoom may cut days in the account's time zone, so a
  request can return records of the neighbouring window's core; those are not dropped but handed
  to their own window (:class:`WindowLocator`). Window ``k`` is therefore complete only once the
  requests of windows ``k - 1``, ``k`` and ``k + 1`` are (any time-zone offset under 24 hours),
  which is how :mod:`tap_zoom_defender.streams` emits them.

:class:`IncrementalState` is the stream's state entry, managed explicitly instead of by the SDK:

* ``replication_key_value`` (the *bookmark*) only moves to the end of a window once that window
  and every window before it are completely emitted, so an interrupted sync resumes at the first
  unfinished window and the state never covers data that was not emitted;
* ``seen`` holds the ids of emitted records whose time is at or after
  ``bookmark - late_arrival_hours`` (compactly: see :class:`IncrementalState`). The next sync
  starts that far before the bookmark (picking up late arrivals) and skips ids in ``seen`` (so
  nothing is emitted twice). Older ids are pruned, which bounds the state by the number of
  events in the late-arrival window.

``event_id`` is a hash of the record's documented fields; identical records in a listing get an
occurrence index (0, 1, ...) so two truly identical sign-ins are not collapsed into one.
"""

from __future__ import annotations

import hashlib
import json
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from tap_zoom_defender import zoom_limits
from tap_zoom_defender.errors import MalformedResponseError, StateError
from tap_zoom_defender.json_kind import json_kind

ONE_DAY = timedelta(days=1)
MAX_WINDOW_DAYS = zoom_limits.REPORT_MAX_RANGE_DAYS - 3
"""Core days per window such that a padded request (a lone window: +1 day each side) fits."""

_ZOOM_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")

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


def time_key(value: object, *, what: str) -> str:
    """Return a string that sorts like the instant ``value`` names (hot path: no datetime).

    Zoom's own format (``2026-01-02T03:04:05Z``) is rewritten with microseconds; anything else
    is parsed (and rejected if it is not a time) and rendered the same way.
    """
    if isinstance(value, str) and _ZOOM_TIME.fullmatch(value):
        return value[:19] + ".000000Z"
    return _key(parse_time(value, what=what))


def _key(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Window:
    """Records with ``start <= time < end``; its request asks for days ``from_date..to_date``."""

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
    """Cut ``[start, end)`` into windows of at most ``window_days`` UTC days, oldest first.

    Each window requests its own days; only the first is padded a day before and only the last
    a day after, so no day is requested twice.
    """
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
        from_date = cursor.date() - (ONE_DAY if not windows else timedelta(0))
        to_date = (core_end - timedelta(microseconds=1)).date()
        if core_end >= end:
            to_date += ONE_DAY
        from_date = max(from_date, floor)
        to_date = max(min(to_date, ceiling), from_date)
        windows.append(Window(cursor, core_end, from_date, to_date))
        cursor = core_end
    return windows


class WindowLocator:
    """Which window's core holds a record's time (``None``: outside the sync range)."""

    def __init__(self, windows: list[Window]) -> None:
        """Index the window boundaries (windows must be contiguous, oldest first)."""
        self._bounds = [_key(w.start) for w in windows]
        if windows:
            self._bounds.append(_key(windows[-1].end))
        self.count = len(windows)

    def position(self, value: object, *, what: str) -> tuple[int, str]:
        """Return the index of the window whose core holds time ``value``, and its time key.

        -1 means before the sync range, ``len(windows)`` at or after its end.
        """
        key = time_key(value, what=what)
        return bisect_right(self._bounds, key) - 1, key


class ReplayFilter:
    """Skips what a listing already delivered when it restarts from its first page.

    Zoom expires a page token after 15 minutes; the listing then starts over and serves the same
    records newest first. Everything delivered so far is newer than the oldest delivered time,
    or at that time and among the few ids remembered for it, so two values and a small set
    recognise the replayed part without keeping an id per record.
    """

    def __init__(self) -> None:
        """Nothing delivered yet."""
        self._oldest: str | None = None
        self._at_oldest: set[str] = set()
        self._replaying = False

    def restart(self) -> None:
        """Skip what was delivered: the listing starts over from its first page."""
        self._replaying = self._oldest is not None

    def fresh(self, key: str, event_id: str) -> bool:
        """Return True for a record to deliver (time ``key``), False for a replayed one."""
        oldest = self._oldest
        if self._replaying:
            assert oldest is not None
            if key > oldest or (key == oldest and event_id in self._at_oldest):
                return False
            self._replaying = False
        if oldest is None or key < oldest:
            self._oldest, self._at_oldest = key, {event_id}
        elif key == oldest:
            self._at_oldest.add(event_id)
        return True


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


_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
)
"""One encoder for every key: ``json.dumps`` with these options builds a new one per call."""


def event_key(record: dict[str, Any], fields: Iterable[str], occurrence: int) -> str:
    """Stable content-derived id: hash of the record's documented fields + occurrence index.

    Only the documented fields take part, so a field Zoom adds later does not change the ids of
    records already delivered. Key order and JSON spacing are canonical.
    """
    canonical = _CANONICAL.encode({name: record.get(name) for name in fields})
    digest = hashlib.sha256(f"{canonical}#{occurrence}".encode())
    return digest.hexdigest()[:EVENT_ID_HEX_CHARS]


class OccurrenceKeyer:
    """Assigns ``event_id`` within one listing: identical records get occurrence 0, 1, 2, ...

    Identical records share their ``time`` and Zoom lists newest first, so copies of one event
    sit on the same page or on neighbouring pages. Counts are therefore kept for the current and
    the previous page only (:meth:`next_page`): memory stays at two pages however many records
    a day holds, where a count per record grew with the day (90 MB for a 286,000-event day).
    """

    def __init__(self, fields: Iterable[str]) -> None:
        """``fields`` are the documented record fields that define identity."""
        self._fields = tuple(fields)
        self._counts: Counter[str] = Counter()
        self._previous: Counter[str] = Counter()

    def reset(self) -> None:
        """Forget counts (when a window's listing restarts from its first page)."""
        self._counts.clear()
        self._previous.clear()

    def next_page(self) -> None:
        """Start counting a new page; counts older than the previous page are dropped."""
        self._previous = self._counts
        self._counts = Counter()

    def assign(self, record: dict[str, Any]) -> dict[str, Any]:
        """Set ``record["event_id"]`` and return the record."""
        base = event_key(record, self._fields, 0)
        occurrence = self._counts[base] + self._previous.get(base, 0)
        self._counts[base] += 1
        record["event_id"] = (
            base if occurrence == 0 else event_key(record, self._fields, occurrence)
        )
        return record


class IncrementalState:
    """The stream's bookmark and bounded dedupe set, living inside the SDK's state dict.

    The dict is the SDK's own stream state entry, so every STATE message carries exactly what has
    been emitted so far. Two id lists:

    * ``seen``: emitted records at or after ``bookmark - late_arrival_hours``, the late-arrival
      dedupe set the next run needs;
    * ``emitting``: records already emitted from the window in progress (empty between
      windows). When a sync stops (an error, the quota, SIGTERM/SIGINT), :meth:`settle` moves
      them into ``seen`` for the final STATE; a STATE written mid-window (by an older version
      or in BATCH mode) still carries them, and the next run reads them as ``seen``. Either way
      the next run emits none of them again.

    Each list entry is a *chunk*: ``"<newest time key> <id><id>..."``, up to :attr:`CHUNK` ids
    of 16 hex digits (the first 64 bits of ``event_id``; a false match needs ~1e9 ids in one
    late-arrival window) after the time of the newest record among them. A chunk is kept while
    its newest record is inside the late-arrival allowance, so pruning never reads an id and
    can only keep a little more than needed, never less. Zoom lists newest first, so a chunk's
    records are close in time.

    Why this layout: a dense account has hundreds of thousands of events a day. As
    ``"<event_id> <time>"`` lines (the previous layout, still read, like the dict before it)
    the window in progress took 54 bytes an event, and a 10x denser account needed 2.3x the
    memory. At 16 bytes an event a 380,000-event day is 6 MB of state.

    The lookup set holds only the ids of *earlier syncs* (``seen`` as read): a record emitted by
    this sync cannot come again in it, since every record belongs to exactly one window and
    every day is requested once (a page-token restart is handled by :class:`ReplayFilter`).
    """

    CHUNK = 512
    """Ids joined into one chunk string."""

    AHEAD_TOLERANCE = timedelta(minutes=5)
    """How far a bookmark may lie beyond "now" before it is refused (clocks are not exact)."""

    FIX_ENTRY = (
        "remove the stream's entry from the state to sync it again from lookback_days/start_date "
        "(events already loaded are sent again)"
    )

    def __init__(self, state: MutableMapping[str, Any], *, late_arrival: timedelta, name: str):
        """Adopt (and validate) the state entry of stream ``name``."""
        self._state = state
        self._late = late_arrival
        self._name = name
        self._seen: list[str] = [
            *self._read(state.get("seen"), "seen", name),
            *self._read(state.get("emitting"), "emitting", name),
        ]
        self._ids: set[int] = {
            int(chunk[i : i + _ID_HEX], 16)
            for chunk in self._seen
            for i in range(chunk.index(" ") + 1, len(chunk), _ID_HEX)
        }
        state["seen"] = self._seen
        self._emitting: list[str] = []
        self._loose = 0  # entries at the end of ``_emitting`` not joined into a chunk yet
        state["emitting"] = self._emitting
        state["replication_key"] = "time"
        self._bookmark = self._read_bookmark(state, name)

    @classmethod
    def check_entry(cls, entry: object, *, name: str, now: datetime | None = None) -> None:
        """Raise StateError naming the problem and the fix if stream ``name`` cannot use ``entry``.

        Checks what ``__init__`` adopts (the bookmark, ``seen``, ``emitting``) without building
        the lookup set, so the tap can check every stream's entry before it emits anything.
        With ``now``, a bookmark in the future is refused too (see :meth:`check_not_ahead`).
        """
        if not isinstance(entry, dict):
            raise StateError(
                f"state for stream {name} is {json_kind(entry)}, not an object like "
                '{"replication_key": "time", "replication_key_value": "..."}; ' + cls.FIX_ENTRY
            )
        bookmark = cls._read_bookmark(entry, name)
        for key in ("seen", "emitting"):
            cls._read(entry.get(key), key, name)
        if now is not None:
            cls._check_ahead(bookmark, now, name)

    def check_not_ahead(self, now: datetime) -> None:
        """Refuse a bookmark later than ``now`` plus :attr:`AHEAD_TOLERANCE`.

        A sync runs from ``bookmark - late_arrival_hours`` to now: from a bookmark in the future
        it would fetch nothing, save the same bookmark again and so freeze the stream with exit
        0, and once the clock caught up everything before ``bookmark - late_arrival_hours`` that
        was never fetched would be skipped for good. No bookmark this tap writes is later than
        the sync's end (Zoom's clock or this machine's, whichever is earlier), so one that is
        was edited, or written while this machine's clock ran ahead of Zoom's.
        """
        self._check_ahead(self._bookmark, now, self._name)

    @classmethod
    def _read_bookmark(cls, entry: Mapping[str, Any], name: str) -> datetime | None:
        """Return the entry's bookmark (None if it has none); StateError if it is not a time."""
        if "replication_key_value" not in entry:
            return None
        value = entry["replication_key_value"]
        if not isinstance(value, str) or not value.strip():
            shown = "an empty string" if isinstance(value, str) else json_kind(value)
            raise StateError(
                f"state for stream {name}: replication_key_value is {shown}, not a date-time "
                f"like 2026-01-31T00:00:00Z; set it to the time up to which events were "
                f"loaded, or {cls.FIX_ENTRY}"
            )
        try:
            return parse_time(value, what=f"state for stream {name}")
        except MalformedResponseError:
            raise StateError(
                f"state for stream {name}: replication_key_value {value!r} is not a date-time "
                f"like 2026-01-31T00:00:00Z; set it to the time up to which events were "
                f"loaded, or {cls.FIX_ENTRY}"
            ) from None

    @property
    def bookmark(self) -> datetime | None:
        """Everything before this was emitted (late arrivals aside); None before the first sync."""
        return self._bookmark

    def is_seen(self, record: dict[str, Any]) -> bool:
        """Return True if an earlier sync emitted this record's ``event_id``.

        Repeats inside one listing (a restart after an expired page token) never reach here:
        the listing skips what it already delivered.
        """
        return bool(self._ids) and int(record["event_id"][:_ID_HEX], 16) in self._ids

    def mark_emitted(self, record: dict[str, Any]) -> None:
        """Remember an emitted record (call only after it was handed to the SDK)."""
        key = time_key(record["time"], what=f"a {self._name} record")
        self._emitting.append(f"{key} {record['event_id'][:_ID_HEX]}")
        self._loose += 1
        if self._loose == self.CHUNK:
            self._join_loose()

    def settle(self) -> None:
        """Move the ids of the unfinished window into ``seen`` (before the last checkpoint)."""
        self._fold(None)

    def complete(self, window: Window) -> None:
        """Advance the bookmark past ``window`` (it and all before it are emitted); prune."""
        if self._bookmark is None or window.end > self._bookmark:
            self._bookmark = window.end
            self._state["replication_key_value"] = format_time(window.end)
        self._fold(_key(self._bookmark - self._late))

    def _join_loose(self) -> None:
        """Join the loose ``"<key> <id>"`` entries at the end of ``emitting`` into one chunk."""
        if not self._loose:
            return
        loose = self._emitting[-self._loose :]
        newest = max(entry[: entry.index(" ")] for entry in loose)
        ids = "".join(entry[-_ID_HEX:] for entry in loose)
        del self._emitting[-self._loose :]
        self._emitting.append(f"{newest} {ids}")
        self._loose = 0

    def _fold(self, cutoff: str | None) -> None:
        """Move ``emitting`` into ``seen``; drop chunks whose newest record is before ``cutoff``.

        Both lists are updated in place: the state dict the SDK writes holds them.
        """
        self._join_loose()
        chunks = [*self._seen, *self._emitting]
        if cutoff is not None:
            chunks = [chunk for chunk in chunks if chunk[: chunk.index(" ")] >= cutoff]
        self._seen[:] = chunks
        self._emitting.clear()

    @classmethod
    def _check_ahead(cls, bookmark: datetime | None, now: datetime, name: str) -> None:
        if bookmark is not None and bookmark > now + cls.AHEAD_TOLERANCE:
            shown_now = format_time(now.replace(microsecond=0))
            raise StateError(
                f"state for stream {name}: the bookmark replication_key_value "
                f"{format_time(bookmark)} is later than now ({shown_now}): a sync from it would "
                "fetch nothing and keep it, so the stream would stop loading events without an "
                "error. Set replication_key_value to the time up to which events were loaded, "
                f"or {cls.FIX_ENTRY}"
            )

    @classmethod
    def _read(cls, raw: object, key: str, name: str) -> list[str]:
        """Chunks of a ``seen``/``emitting`` value, converting the two earlier layouts."""
        if not raw:
            return []
        bad = StateError(f"state for stream {name}: bad '{key}'; fix or drop it")
        if isinstance(raw, dict):  # earliest layout: {event_id: time}
            if not all(isinstance(v, str) for v in raw.values()):
                raise bad
            return cls._chunks(list(raw.items()), name)
        if not isinstance(raw, list) or not all(isinstance(chunk, str) for chunk in raw):
            raise StateError(
                f"state for stream {name}: '{key}' must be a list of strings; fix or drop it"
            )
        chunks: list[str] = []
        lines: list[tuple[str, str]] = []
        for chunk in raw:
            if "\n" in chunk:  # previous layout: "<event_id> <time>" lines
                for line in chunk.splitlines():
                    event_id, _, moment = line.partition(" ")
                    lines.append((event_id, moment))
                continue
            if not _CHUNK.fullmatch(chunk) or len(chunk.partition(" ")[2]) % _ID_HEX:
                raise bad
            chunks.append(chunk)
        return chunks + cls._chunks(lines, name)

    @classmethod
    def _chunks(cls, entries: list[tuple[str, str]], name: str) -> list[str]:
        """Chunks for ``(event_id, time)`` pairs of the earlier layouts."""
        what = f"state for stream {name}"
        keyed: list[tuple[str, str]] = []
        for event_id, moment in entries:
            if not _HEX_ID.fullmatch(event_id[:_ID_HEX]):
                raise StateError(f"{what}: bad id list entry; fix or drop it")
            try:
                keyed.append((time_key(moment, what=what), event_id[:_ID_HEX]))
            except MalformedResponseError as exc:
                raise StateError(f"{exc}: fix or drop it") from None
        keyed.sort(reverse=True)
        out = []
        for i in range(0, len(keyed), cls.CHUNK):
            part = keyed[i : i + cls.CHUNK]
            out.append(f"{part[0][0]} {''.join(event_id for _, event_id in part)}")
        return out


_ID_HEX = 16
"""Hex digits of ``event_id`` kept in state: 64 bits."""

_HEX_ID = re.compile(r"[0-9a-f]{16}")
_CHUNK = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z [0-9a-f]+")
