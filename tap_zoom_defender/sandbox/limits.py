"""Zoom's per-account rate limits: per-second windows per category and daily quota pools."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .config import SandboxConfig

# Limits below one request per second (Resource-intensive: 10 or 20 per minute) are enforced
# over a minute, as Zoom words them.
_SLOW_WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class Verdict:
    """Outcome of one admission check, with what the response headers should say."""

    ok: bool
    rate_type: str | None  # "QPS" or "Daily-limit" (None when limits are off)
    limit: int | None
    remaining: int | None
    retry_after: str | None = None  # ISO-8601 next 00:00 UTC, on a Daily-limit 429 only


def _window(per_second: float) -> tuple[float, int]:
    if per_second >= 1:
        return 1.0, int(per_second)
    return _SLOW_WINDOW_SECONDS, max(1, round(per_second * _SLOW_WINDOW_SECONDS))


def next_utc_midnight(ts: float) -> str:
    """ISO-8601 of the next 00:00 UTC after ``ts`` (the daily quota's reset)."""
    day = datetime.fromtimestamp(ts, timezone.utc).date() + timedelta(days=1)
    return f"{day.isoformat()}T00:00:00Z"


class RateLimits:
    """Admission control for one account.

    The per-second limit is a sliding-window log: a request is accepted only if fewer than N
    requests of its category were accepted in the preceding second (monotonic time). That makes
    "at most N accepted in ANY one-second window" an exact guarantee tests can check from the
    request log. Rejected requests consume neither the window nor the daily quota.
    """

    def __init__(self, cfg: SandboxConfig) -> None:
        """Take the plan's table (plus overrides) and daily pools from the config."""
        self._qps_on = cfg.rate_limits
        self._windows = {c: _window(v) for c, v in cfg.per_second_limits().items()}
        self._accepted: dict[str, deque[float]] = {c: deque() for c in self._windows}
        self._pool_of: dict[str, str] = {}
        self._pool_limit: dict[str, int] = {}
        for pool, (members, quota) in cfg.daily_pools().items():
            self._pool_limit[pool] = quota
            for category in members:
                self._pool_of[category] = pool
        self._used: dict[str, int] = {}
        self._day: int | None = None
        self._lock = threading.Lock()

    def admit(self, category: str, mono: float, sandbox_now: float) -> Verdict:
        """Decide one request of ``category`` arriving at ``mono`` (``sandbox_now``)."""
        with self._lock:
            today = int(sandbox_now // 86400)
            if today != self._day:
                self._day, self._used = today, {}
            pool = self._pool_of.get(category)
            if pool is not None:
                limit = self._pool_limit[pool]
                if self._used.get(pool, 0) >= limit:
                    return Verdict(False, "Daily-limit", limit, 0, next_utc_midnight(sandbox_now))
            window, cap = self._windows.get(category, (1.0, 0))
            accepted = self._accepted.setdefault(category, deque())
            if self._qps_on and category in self._windows:
                while accepted and accepted[0] <= mono - window:
                    accepted.popleft()
                if len(accepted) >= cap:
                    return Verdict(False, "QPS", cap, 0)
                accepted.append(mono)
            if pool is not None:
                used = self._used[pool] = self._used.get(pool, 0) + 1
                return Verdict(True, "Daily-limit", self._pool_limit[pool], limit - used)
            if self._qps_on and category in self._windows:
                return Verdict(True, "QPS", cap, cap - len(accepted))
            return Verdict(True, None, None, None)

    def daily_used(self) -> dict[str, int]:
        """Count requests charged to each daily pool today (for tests and the CLI)."""
        with self._lock:
            return dict(self._used)
