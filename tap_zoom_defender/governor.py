"""The rate governor: one gate every Zoom request of the process passes through.

Zoom's limits belong to the *account*, not to this tap: every app on the account (SSO sync,
Sentinel's connector, chat bots) spends the same per-second budget per category and the same daily
Heavy quota, and exhausting the daily quota locks all of them out until 00:00 UTC. So the governor

* paces each category to ``plan table (or rate_limits_per_second) x rate_limit_share`` with a
  sliding-window log (pyrate-limiter's ``InMemoryBucket``), never more than that in ANY
  one-second window - plus a margin (50 ms, wider while the machine is overloaded), because the
  server stamps arrival, not our send time;
* spends a persistent daily budget (``daily_request_budget``) for Heavy + Resource-intensive calls,
  kept in a small SQLite file so it survives across runs (and processes) of the same UTC day;
* turns a Daily-limit 429 into :class:`QuotaExhausted` (remembered until the reset, so a re-run
  the same day does not waste another request), and a per-second 429 into a wait honouring
  ``Retry-After`` / ``X-RateLimit-Reset`` (without them: jittered exponential backoff, never
  under one second, Zoom's window), pausing the whole category - not just the one retrying
  request - and cutting its rate (AIMD: halve on a 429, add back 10% of the budget per quiet
  second), because a 429 we did not predict means another app is using the account's budget
  right now.

The governor never sleeps inside ``on_429``: it returns the delay so the caller (client.py) owns its
retry loop; ``acquire`` then also waits out the pause, so concurrent workers of the same category
cannot hammer Zoom while one of them backs off.

The parts it is built from live in their own modules: :mod:`throttle_settings` (the settings and
their validation), :mod:`quota_store` (the SQLite daily count and lockouts) and
:mod:`rate_windows` (the sliding-window logs).
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from tap_zoom_defender import zoom_limits
from tap_zoom_defender.quota_store import QuotaStore
from tap_zoom_defender.rate_windows import (
    WINDOW_MARGIN_S,
    LocalWindow,
    SharedWindow,
    WindowMargin,
    rate_for,
)
from tap_zoom_defender.retry_after import (
    next_utc_midnight,
    parse_ratelimit_reset,
    parse_retry_after,
)
from tap_zoom_defender.throttle_settings import (
    GovernorSettings,
    validate_config,
)

logger = logging.getLogger(__name__)

DECREASE_FACTOR = 0.5
"""Multiplicative decrease on an unexpected per-second 429 (the "MD" of AIMD)."""

DECREASE_DEBOUNCE_S = 1.0
"""Requests already in flight when the first 429 lands also get 429s; count them as one signal."""

MIN_RATE_FRACTION = 0.1
"""Never slow a category below this fraction of its budget: a floor keeps the sync moving."""

RECOVERY_STEP_FRACTION = 0.1
RECOVERY_INTERVAL_S = 1.0
"""Additive increase: each quiet second gives back 10% of the budget (full recovery from a halving
in ~5 s), so a brief burst by another app costs little while a busy account keeps pushing back."""

BACKOFF_BASE_S = 1.0
"""Shortest wait after a 429 without ``Retry-After``/``X-RateLimit-Reset``: Zoom's limits are
per-second windows, so a retry (by any thread) sooner than one second after such a 429 can land in
the very window that refused it. The k-th in a row waits 1-2 s, 2-4 s, 4-8 s... (jittered)."""
BACKOFF_CAP_S = 60.0
MIN_RETRY_DELAY_S = 0.25
"""Floor for any per-second-429 wait (even ``Retry-After: 0``): never a hot retry loop."""
MAX_RETRY_DELAY_S = 15 * 60.0
"""A per-second 429 asking for more than this is treated as this (a page token lives 15 min)."""


class _ResponseLike(Protocol):
    """What the governor reads from a response: ``requests.Response`` satisfies it."""

    headers: Mapping[str, str]


class QuotaExhausted(Exception):
    """The daily budget or Zoom's daily limit is spent: stop cleanly and resume after ``reset_at``.

    Attributes:
        reset_at: When the quota resets (aware UTC datetime).
        reason: One human sentence saying which limit was hit (no secrets).

    """

    def __init__(self, reason: str, reset_at: datetime) -> None:
        """Build the exception; ``str(exc)`` is the single log line the tap prints."""
        self.reason = reason
        self.reset_at = reset_at
        super().__init__(f"{reason}; it resets at {reset_at.strftime('%Y-%m-%dT%H:%M:%SZ')}")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class _CategoryState:
    """Pacing state of one rate-limit category; guarded by ``lock``."""

    name: str
    ceiling: float  # requests/s we may use: account limit x share
    current: float  # requests/s we pace to now (<= ceiling; lowered by 429s)
    window: LocalWindow | SharedWindow
    lock: threading.Lock = field(default_factory=threading.Lock)
    paused_until: float = 0.0  # monotonic seconds
    margin: float = WINDOW_MARGIN_S
    last_decrease: float = -math.inf
    last_adjust: float = 0.0
    consecutive_429: int = 0
    requests: int = 0
    throttled: int = 0


class RateGovernor:
    """Process-wide pacing of Zoom requests per category, plus the daily budget. Thread-safe."""

    def __init__(
        self,
        settings: GovernorSettings,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """Build from validated settings; ``clock`` (UTC wall time) is for day-boundary tests."""
        self.settings = settings
        self._clock = clock
        self._store = QuotaStore(settings.quota_state_path)
        self._paid_plan = settings.plan != "free"
        self._lockouts: dict[str, datetime] = {}
        self._lockouts_lock = threading.Lock()
        self._margin = WindowMargin()
        now = time.monotonic()
        self._categories: dict[str, _CategoryState] = {}
        for category in zoom_limits.CATEGORIES:
            account_limit = settings.rate_limits_per_second.get(
                category, zoom_limits.RATE_LIMITS_PER_SECOND[settings.plan][category]
            )
            ceiling = account_limit * settings.rate_limit_share
            self._categories[category] = _CategoryState(
                name=category,
                ceiling=ceiling,
                current=ceiling,
                window=self._make_window(category, ceiling),
                last_adjust=now,
            )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RateGovernor:
        """Build the governor from the tap config; ``ValueError`` names a bad setting."""
        return cls(validate_config(config))

    # ----------------------------------------------------------------------------- public API

    def acquire(self, category: str) -> None:
        """Block until a request of ``category`` may be sent now; raise QuotaExhausted if none may.

        Call immediately before sending: the slot is stamped with the current time.
        """
        state = self._state(category)
        self._check_lockout(category)
        if category in zoom_limits.SHARED_DAILY_CATEGORIES:
            self._spend_daily()
        while True:
            with state.lock:
                now = time.monotonic()
                if state.paused_until > now:
                    wait = state.paused_until - now
                else:
                    self._recover(state, now)
                    margin = self._margin.at(now)
                    if margin != state.margin:
                        state.margin = margin
                        self._set_rate(state, state.current)
                    wait = state.window.try_take()
                    if wait == 0:
                        state.requests += 1
                        return
            wake_at = time.monotonic() + wait + 0.001
            time.sleep(wait + 0.001)
            woke = time.monotonic()
            self._margin.note_lateness(woke - wake_at, woke)

    def on_429(self, category: str, response: _ResponseLike) -> float:
        """Handle an HTTP 429: return seconds to wait before retrying; raise on a daily limit.

        The whole category is paused for that long and its pace is cut, because Zoom counts the
        account, not us: a 429 we did not predict means another app is spending the budget.
        """
        state = self._state(category)
        headers = response.headers
        wall_now = self._clock()
        if self._is_daily_limit(response):
            # Zoom's own word on the reset wins (it knows its clock); midnight UTC otherwise.
            reset_at = parse_retry_after(headers.get("Retry-After"), wall_now)
            if reset_at is None:
                reset_at = next_utc_midnight(wall_now)
            self._record_lockout(category, reset_at)
            raise QuotaExhausted(
                f"Zoom's daily request limit for {self._daily_group(category)} requests on this "
                "account is reached (HTTP 429, X-RateLimit-Type: Daily-limit)",
                reset_at,
            )

        with state.lock:  # pause first: another thread may be about to send this category
            now = time.monotonic()
            state.throttled += 1
            # A 429 arriving while the category is already paused answers a request sent before
            # the pause began: the same overload, so it must not escalate the backoff again.
            if state.paused_until <= now:
                state.consecutive_429 += 1
            delay = self._header_delay(headers, wall_now)
            source = "Retry-After/X-RateLimit-Reset"
            if delay is None:
                streak = max(state.consecutive_429, 1)
                floor = BACKOFF_BASE_S * 2 ** min(streak - 1, 16)
                delay = min(BACKOFF_CAP_S, floor + random.uniform(0, floor))
                source = "backoff"
            delay = min(max(delay, MIN_RETRY_DELAY_S), MAX_RETRY_DELAY_S)
            state.paused_until = max(state.paused_until, now + delay)
            if now - state.last_decrease >= DECREASE_DEBOUNCE_S:
                state.last_decrease = now
                lowered = max(state.ceiling * MIN_RATE_FRACTION, state.current * DECREASE_FACTOR)
                self._set_rate(state, lowered)
            state.last_adjust = now
            logger.warning(
                "Zoom throttled %s requests (HTTP 429); waiting %.2f s (%s), pacing %s at %.2f/s "
                "of a %.2f/s budget",
                category,
                delay,
                source,
                category,
                state.current,
                state.ceiling,
            )
        if category in zoom_limits.SHARED_DAILY_CATEGORIES:
            # Zoom does not count a rejected request against the daily quota; neither do we.
            self._store.refund(self.settings.scope, wall_now.date().isoformat())
        return delay

    def on_response(self, category: str, response: _ResponseLike) -> None:
        """Record a non-429 response: ends a 429 streak; daily "0 remaining" stops further calls."""
        state = self._state(category)
        with state.lock:
            state.consecutive_429 = 0
        headers = response.headers
        if (headers.get("X-RateLimit-Type") or "").lower() != "daily-limit":
            return
        remaining = headers.get("X-RateLimit-Remaining")
        try:
            left = int(remaining) if remaining is not None else None
        except ValueError:
            left = None
        if left is not None and left <= 0:
            self._record_lockout(category, next_utc_midnight(self._clock()))

    # ------------------------------------------------------------------------ introspection

    def budget_per_second(self, category: str) -> float:
        """Requests/s this pipeline may use for ``category`` (account limit x share)."""
        return self._state(category).ceiling

    def current_per_second(self, category: str) -> float:
        """Requests/s the governor paces ``category`` to right now (lower after 429s)."""
        state = self._state(category)
        with state.lock:
            self._recover(state, time.monotonic())
            return state.current

    def daily_used(self) -> int:
        """Heavy + Resource-intensive requests spent today (UTC) against the daily budget."""
        return self._store.used(self.settings.scope, self._clock().date().isoformat())

    def stats(self) -> dict[str, dict[str, float]]:
        """Per-category counters for progress lines: budget, current pace, requests, 429s."""
        result = {}
        for name, state in self._categories.items():
            with state.lock:
                result[name] = {
                    "budget_per_second": state.ceiling,
                    "current_per_second": state.current,
                    "requests": state.requests,
                    "throttled": state.throttled,
                }
        return result

    def close(self) -> None:
        """Release the SQLite connections."""
        self._store.close()
        for state in self._categories.values():
            state.window.close()

    # ----------------------------------------------------------------------------- internals

    def _make_window(self, category: str, per_second: float) -> LocalWindow | SharedWindow:
        if not self.settings.shared_rate_limits:
            return LocalWindow(category, rate_for(per_second))
        table = f"qps_{self.settings.scope}_{category.replace('-', '_').lower()}"
        return SharedWindow(category, rate_for(per_second), self.settings.quota_state_path, table)

    def _state(self, category: str) -> _CategoryState:
        try:
            return self._categories[category]
        except KeyError:
            raise ValueError(
                f"unknown rate-limit category {category!r}; "
                f"expected one of {', '.join(zoom_limits.CATEGORIES)}"
            ) from None

    def _daily_group(self, category: str) -> str:
        """Categories that share one daily quota on Zoom (Heavy + Resource-intensive on paid)."""
        if self._paid_plan and category in zoom_limits.SHARED_DAILY_CATEGORIES:
            return "+".join(zoom_limits.SHARED_DAILY_CATEGORIES)
        return category

    def _check_lockout(self, category: str) -> None:
        group = self._daily_group(category)
        now = self._clock()
        with self._lockouts_lock:
            until = self._lockouts.get(group)
            if until is None or until <= now:
                # Another pipeline sharing the quota file may have met Zoom's limit meanwhile.
                until = self._store.lockout(self.settings.scope, group)
                if until is not None:
                    self._lockouts[group] = until
        if until is not None and until > now:
            raise QuotaExhausted(
                f"Zoom's daily request limit for {group} requests on this account was reached "
                "earlier today",
                until,
            )

    def _record_lockout(self, category: str, until: datetime) -> None:
        group = self._daily_group(category)
        with self._lockouts_lock:
            self._lockouts[group] = until
            self._store.set_lockout(self.settings.scope, group, until, self._clock())

    def _spend_daily(self) -> None:
        now = self._clock()
        budget = self.settings.daily_request_budget
        if self._store.spend(self.settings.scope, now.date().isoformat(), budget) is None:
            raise QuotaExhausted(
                f"daily_request_budget of {budget} Heavy/Resource-intensive requests for today "
                "(UTC) is used up",
                next_utc_midnight(now),
            )

    def _header_delay(self, headers: Mapping[str, str], wall_now: datetime) -> float | None:
        """Seconds Zoom asked us to wait, from Retry-After or X-RateLimit-Reset, else None."""
        for parse, name in (
            (parse_retry_after, "Retry-After"),
            (parse_ratelimit_reset, "X-RateLimit-Reset"),
        ):
            moment = parse(headers.get(name), wall_now)
            if moment is not None:
                return max(0.0, (moment - wall_now).total_seconds())
        return None

    @staticmethod
    def _is_daily_limit(response: _ResponseLike) -> bool:
        rate_type = (response.headers.get("X-RateLimit-Type") or "").strip().lower()
        if rate_type:
            return rate_type == "daily-limit"
        # Zoom has sent 429s without the headers; its daily message names the daily limit.
        body = getattr(response, "text", "") or ""
        return isinstance(body, str) and "daily" in body.lower()

    def _recover(self, state: _CategoryState, now: float) -> None:
        """Additive increase: give back part of the budget for each quiet interval."""
        if state.current >= state.ceiling:
            state.last_adjust = now
            return
        steps = math.floor((now - state.last_adjust) / RECOVERY_INTERVAL_S)
        if steps <= 0:
            return
        state.last_adjust += steps * RECOVERY_INTERVAL_S
        raised = min(state.ceiling, state.current + steps * state.ceiling * RECOVERY_STEP_FRACTION)
        self._set_rate(state, raised)
        if raised >= state.ceiling:
            logger.info("%s requests back at the full %.2f/s budget", state.name, state.ceiling)

    @staticmethod
    def _set_rate(state: _CategoryState, per_second: float) -> None:
        state.current = per_second
        state.window.set_rate(rate_for(per_second, state.margin))
