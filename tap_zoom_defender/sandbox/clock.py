"""The sandbox's notion of "now", separate from the wall clock so tests can jump ahead."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone


class SandboxClock:
    """Sandbox time = anchor + manual offset + elapsed real time x speed.

    Token lifetimes, page-token expiry and the daily-quota day follow ``now()``. Data visibility
    follows ``data_now()``, which only runs in live mode: a non-live sandbox serves a frozen
    dataset that moves only when a test calls ``advance``.
    """

    def __init__(self, anchor: datetime | None, live: bool, speed: float = 1.0) -> None:
        """Start the clock at ``anchor`` (UTC) or at the current real time."""
        self._anchor = (anchor or datetime.now(timezone.utc)).timestamp()
        self._mono0 = time.monotonic()
        self._wall0 = time.time()
        self._offset = 0.0
        self._live = live
        self._speed = speed
        self._lock = threading.Lock()

    @property
    def anchor(self) -> float:
        """Epoch seconds at which the clock started."""
        return self._anchor

    def now(self) -> float:
        """Sandbox epoch seconds, always running."""
        return self._anchor + self._offset + (time.monotonic() - self._mono0) * self._speed

    def data_now(self) -> float:
        """Sandbox epoch seconds used for record visibility (frozen unless live)."""
        return self.now() if self._live else self._anchor + self._offset

    def advance(self, seconds: float) -> None:
        """Move sandbox time forward (never backward: records must not disappear)."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += seconds

    def wall(self, mono: float) -> float:
        """Real epoch seconds for a ``time.monotonic()`` reading (one timeline for the log)."""
        return self._wall0 + (mono - self._mono0)
