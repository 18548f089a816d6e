"""Zoom's clock, read from the ``Date`` header of its responses, so a sync never runs ahead of it.

Why: a report sync runs from ``bookmark - late_arrival_hours`` to "now", and the bookmark becomes
that "now" once everything before it is emitted. If this machine's clock runs ahead of Zoom's by
more than ``late_arrival_hours``, the bookmark lands ahead of every event Zoom has, and events
that happen in between (in Zoom's time) lie before the next sync's start: skipped for good, with
exit 0.

Fix chosen: the sync ends at the *earlier* of this machine's "now" and Zoom's "now" (the ``Date``
header of the token response, requested before any sync is planned). Zoom's clock is what decides
which events exist, so ending there loses nothing whatever the skew; refusing to run beyond a
tolerance instead would stop the security feed for a problem the tap can handle exactly, and a
tolerance shorter than ``late_arrival_hours`` would still need choosing per account. When this
machine's clock is *behind*, its own "now" is the earlier one: the newest minutes wait for the next
run, nothing is skipped. Either way a skew over :data:`SKEW_WARNING_S` is logged once, so the
operator fixes the clock (NTP). Without a ``Date`` header (a proxy that strips it) this machine's
clock is used, as before.

``Date`` has whole seconds and is written while the server handles the request, so Zoom's offset
is only known to lie between ``Date - received`` and ``Date + 1 - sent`` (local times); the sync
end uses the lower bound (never later than Zoom's real time).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import requests

from tap_zoom_defender.retry_after import parse_http_datetime

SKEW_WARNING_S = 60.0
"""A clock difference beyond this (seconds) is logged as a warning."""

logger = logging.getLogger("tap-zoom-defender")


class ZoomClock:
    """Zoom's "now" as seen through the ``Date`` header of its latest response."""

    def __init__(self) -> None:
        """Nothing observed yet: :meth:`sync_end` is this machine's clock."""
        self._lock = threading.Lock()
        self._offset: tuple[float, float] | None = None  # (low, high) seconds Zoom is ahead
        self._source = ""
        self._warned = False

    def observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Read the ``Date`` header of a Zoom response (a ``requests`` response hook)."""
        del args, kwargs
        stamp = parse_http_datetime(response.headers.get("Date") or "")
        if stamp is None:
            return
        received = time.time()
        sent = received - response.elapsed.total_seconds()
        zoom = stamp.timestamp()
        with self._lock:
            self._offset = (zoom - received, zoom + 1.0 - sent)
            self._source = urlsplit(response.url).netloc or "Zoom"

    def offset(self) -> tuple[float, float] | None:
        """Return (low, high) bounds of how many seconds Zoom's clock is ahead; None if unknown."""
        with self._lock:
            return self._offset

    def sync_end(self) -> datetime:
        """Return where a sync may end: the earlier of this machine's and Zoom's "now" (UTC)."""
        local = datetime.now(timezone.utc)
        bounds = self.offset()
        if bounds is None or bounds[0] >= 0:
            return local
        return local + timedelta(seconds=bounds[0])

    def warn_if_skewed(self) -> None:
        """Log once when this machine's clock and Zoom's differ by more than SKEW_WARNING_S."""
        bounds = self.offset()
        if bounds is None or self._warned:
            return
        low, high = bounds
        if high < -SKEW_WARNING_S:
            self._warned = True
            logger.warning(
                "This machine's clock is %s ahead of Zoom's (Date header from %s): syncs end at "
                "Zoom's time, so nothing is skipped, but fix this machine's clock (NTP)",
                _duration(-high),
                self._source,
            )
        elif low > SKEW_WARNING_S:
            self._warned = True
            logger.warning(
                "This machine's clock is %s behind Zoom's (Date header from %s): syncs end at "
                "this machine's time, so the newest events wait for the next run; fix this "
                "machine's clock (NTP)",
                _duration(low),
                self._source,
            )


def _duration(seconds: float) -> str:
    """Say a duration the way a person reads it: ``45 s``, ``12 min``, ``3.0 h``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
