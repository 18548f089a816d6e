"""One progress line per stream at a steady interval, so a long backfill is never silent.

A 7-day backfill of a large account runs for minutes; the SDK logs nothing between its start and
its end except per-request metrics. The reporter runs a small timer thread per stream sync and
logs, through the stream's logger (stderr), e.g.::

    activities progress: 3/8 windows, 62% fetched, 91,800 records, 9.5 Heavy req/s,
    0 HTTP 429 so far, ETA 41 s

(one line). Requests/s and 429s come from the rate governor's counters (process-wide for the
category: they count every request of that kind, which is what the budget sees). The ETA
extrapolates from the share fetched (report streams: how much of the sync's time range the
listings have paged through; Zoom lists newest first), else from the time per finished window.
Nothing secret is in a line.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from singer_sdk import typing as th

DEFAULT_PROGRESS_INTERVAL_S = 30.0


def config_properties() -> list[th.Property]:
    """Return the progress setting for the tap's config schema."""
    return [
        th.Property(
            "progress_interval_seconds",
            th.NumberType,
            default=DEFAULT_PROGRESS_INTERVAL_S,
            description=(
                "Seconds between progress log lines of a running stream (windows done/total, "
                "records, requests/s, HTTP 429s, ETA). 0 turns them off."
            ),
        )
    ]


def check_config(config: Mapping[str, Any]) -> list[str]:
    """Problems with the progress setting, one sentence each naming it."""
    value = config.get("progress_interval_seconds")
    if value is None:
        return []
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return [f"progress_interval_seconds={value!r} must be a number of seconds (0 = off)"]
    if value < 0:
        return [f"progress_interval_seconds={value!r} must be 0 (off) or more"]
    return []


class Progress:
    """Counters of one stream sync, and the thread that logs them every ``interval`` seconds.

    The consumer thread bumps ``records`` and ``windows_done`` (plain ints: one writer);
    the timer thread only reads them.
    """

    def __init__(
        self,
        logger: logging.Logger,
        stream: str,
        *,
        total_windows: int,
        interval: float,
        stats: Any = None,
        category: str | None = None,
        unit: str = "windows",
        fetched: Callable[[], float] | None = None,
    ) -> None:
        """Count for ``stream``; ``stats`` returns the governor's per-category counters.

        ``fetched`` returns the share of the sync's time range paged through so far (0..1);
        it drives the ETA when given.
        """
        self._logger = logger
        self._stream = stream
        self._stats = stats
        self._category = category
        self._unit = unit
        self._fetched = fetched
        self.total_windows = total_windows
        self.interval = interval
        self.records = 0
        self.windows_done = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = time.monotonic()
        self._last = (self._started, *self._counters())
        self._throttled_at_start = self._last[2]

    def __enter__(self) -> Progress:
        """Start the timer thread (none when the interval is 0)."""
        if self.interval > 0:
            self._thread = threading.Thread(
                target=self._run, name=f"{self._stream}-progress", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the timer thread."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._logger.info("%s", self.line())

    def _counters(self) -> tuple[int, int]:
        if self._stats is None or self._category is None:
            return 0, 0
        counters = self._stats().get(self._category, {})
        return int(counters.get("requests", 0)), int(counters.get("throttled", 0))

    def line(self) -> str:
        """Return the progress line for now (rates since the previous line)."""
        now = time.monotonic()
        requests, throttled = self._counters()
        then, requests_then, _ = self._last
        self._last = (now, requests, throttled)
        rate = (requests - requests_then) / max(now - then, 1e-6)
        done, total = self.windows_done, self.total_windows
        elapsed = now - self._started
        fetched = min(1.0, max(0.0, self._fetched())) if self._fetched else None
        if done >= total:
            eta = "0 s"
        elif fetched is not None and fetched >= 0.01:
            eta = f"{elapsed * (1 - fetched) / fetched:.0f} s"
        elif done:
            eta = f"{elapsed / done * (total - done):.0f} s"
        else:
            eta = "unknown"
        share = f", {fetched:.0%} fetched" if fetched is not None else ""
        category = f" {self._category}" if self._category else ""
        return (
            f"{self._stream} progress: {done}/{total} {self._unit}{share}, "
            f"{self.records:,} records, "
            f"{rate:.1f}{category} req/s, {throttled - self._throttled_at_start} HTTP 429 so far, "
            f"ETA {eta}"
        )


__all__ = ["DEFAULT_PROGRESS_INTERVAL_S", "Progress", "check_config", "config_properties"]
