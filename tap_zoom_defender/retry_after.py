"""Turn Zoom's throttling headers into absolute points in time.

Zoom is inconsistent about how it says "come back later": a per-second 429 may carry
``Retry-After`` as a number of seconds, an HTTP-date, or nothing at all; a Daily-limit 429 carries
``Retry-After`` as an ISO-8601 datetime (``2025-01-20T00:00:00Z``); some gateways add
``X-RateLimit-Reset`` as epoch seconds or as seconds-from-now. Parsing everything to an aware UTC
``datetime`` lets the governor compare and persist them uniformly. Unparseable values return
``None`` so the caller falls back to backoff instead of crashing on a bad header.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

_NUMBER = re.compile(r"^\s*[+-]?\d+(\.\d+)?\s*$")
# Epoch timestamps are far larger than any sane "seconds from now" value.
_EPOCH_SECONDS_THRESHOLD = 1_000_000_000
_EPOCH_MILLIS_THRESHOLD = 100_000_000_000


def next_utc_midnight(now: datetime) -> datetime:
    """Return the next 00:00 UTC after ``now``: when Zoom's daily quotas reset."""
    now = _as_utc(now)
    return datetime(now.year, now.month, now.day, tzinfo=timezone.utc) + timedelta(days=1)


def parse_http_datetime(value: str) -> datetime | None:
    """Parse an ISO-8601 or RFC 7231 HTTP-date string to an aware UTC datetime, else ``None``."""
    text = value.strip()
    if not text:
        return None
    iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        return _as_utc(datetime.fromisoformat(iso))
    except ValueError:
        pass
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return None if parsed is None else _as_utc(parsed)


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """Return when a ``Retry-After`` header says to retry, or ``None`` if absent/unparseable.

    Accepts delta-seconds (fractions tolerated), an HTTP-date, or an ISO-8601 datetime (what Zoom
    sends on a Daily-limit 429). Negative or non-finite numbers are treated as unparseable.
    """
    if value is None:
        return None
    if _NUMBER.match(value):
        seconds = float(value)
        if not math.isfinite(seconds) or seconds < 0:
            return None
        return _as_utc(now) + timedelta(seconds=seconds)
    return parse_http_datetime(value)


def parse_ratelimit_reset(value: str | None, now: datetime) -> datetime | None:
    """Return when an ``X-RateLimit-Reset`` header says the window resets, or ``None``.

    Gateways disagree on the unit, so a large number is read as an epoch timestamp (seconds, or
    milliseconds if very large) and a small one as seconds from now; dates are parsed as dates.
    """
    if value is None:
        return None
    if _NUMBER.match(value):
        number = float(value)
        if not math.isfinite(number) or number < 0:
            return None
        if number >= _EPOCH_MILLIS_THRESHOLD:
            return datetime.fromtimestamp(number / 1000, tz=timezone.utc)
        if number >= _EPOCH_SECONDS_THRESHOLD:
            return datetime.fromtimestamp(number, tz=timezone.utc)
        return _as_utc(now) + timedelta(seconds=number)
    return parse_http_datetime(value)


def _as_utc(moment: datetime) -> datetime:
    """Treat naive datetimes as UTC (Zoom's timestamps are UTC) and normalise aware ones."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
