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
  ``Retry-After`` / ``X-RateLimit-Reset`` (jittered exponential backoff without them), pausing the
  whole category - not just the one retrying request - and cutting its rate (AIMD: halve on a 429,
  add back 10% of the budget per quiet second), because a 429 we did not predict means another app
  is using the account's budget right now.

The governor never sleeps inside ``on_429``: it returns the delay so the caller (client.py) owns its
retry loop; ``acquire`` then also waits out the pause, so concurrent workers of the same category
cannot hammer Zoom while one of them backs off.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from pyrate_limiter import InMemoryBucket, Rate, RateItem, SQLiteBucket
from singer_sdk import typing as th

from tap_zoom_defender import zoom_limits
from tap_zoom_defender.retry_after import (
    next_utc_midnight,
    parse_http_datetime,
    parse_ratelimit_reset,
    parse_retry_after,
)

logger = logging.getLogger(__name__)

DEFAULT_RATE_LIMIT_SHARE = 0.5
"""Half the account's per-second budget: fast for a backfill, leaves the rest to other apps."""

DEFAULT_DAILY_BUDGET_FRACTION = 0.5
"""Default ``daily_request_budget`` = this fraction of the plan's Heavy daily quota."""

DEFAULT_API_URL = "https://api.zoom.us/v2"

WINDOW_MARGIN_S = 0.05
"""Extra length of the counting window. The server sees arrival times, which trail our send times
by a jittery few milliseconds; without a margin an early request delayed more than a later one can
put budget+1 requests into one server-side second."""

MAX_WINDOW_MARGIN_S = 0.25
LATENESS_HALF_LIFE_S = 10.0
"""On a loaded machine threads wake late (CPU, GIL) and the send after ``acquire`` is late by as
much, so the margin widens to twice the recent worst oversleep (decaying with this half-life),
capped, and returns to the base when the machine calms down."""

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
BACKOFF_CAP_S = 60.0
MIN_RETRY_DELAY_S = 0.25
"""Floor for any per-second-429 wait (even ``Retry-After: 0``): never a hot retry loop."""
MAX_RETRY_DELAY_S = 15 * 60.0
"""A per-second 429 asking for more than this is treated as this (a page token lives 15 min)."""

_SQLITE_TIMEOUT_S = 30.0


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


@dataclass(frozen=True)
class GovernorSettings:
    """Validated throttling settings (see :func:`config_properties` for their meaning)."""

    plan: str
    rate_limit_share: float
    rate_limits_per_second: Mapping[str, float]
    daily_request_budget: int
    quota_state_path: Path
    shared_rate_limits: bool = False
    scope: str = field(default="", repr=False)


def default_quota_state_path() -> Path:
    """Where the daily-budget file lives unless ``quota_state_path`` says otherwise.

    A per-user state directory (XDG) rather than the working directory: Meltano runs every job
    from the project root, and two jobs for the same account must find the same file to share one
    budget; the file is tiny and holds no secrets.
    """
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "tap-zoom-defender" / "quota.sqlite"


def config_properties() -> list[th.Property]:
    """Return the throttling settings for the tap's config schema (the tap adds these)."""
    plan_defaults = ", ".join(
        f"{plan} {int(quota[zoom_limits.HEAVY] * DEFAULT_DAILY_BUDGET_FRACTION)}"
        for plan, quota in zoom_limits.DAILY_QUOTA.items()
    )
    return [
        th.Property(
            "rate_limit_share",
            th.NumberType,
            default=DEFAULT_RATE_LIMIT_SHARE,
            description=(
                "Fraction (0 < x <= 1) of the account's per-second rate limits this pipeline may "
                "use. Zoom's limits are shared by every app on the account; the default 0.5 leaves "
                "half to them. Set 1.0 only if nothing else calls the account's API."
            ),
        ),
        th.Property(
            "rate_limits_per_second",
            th.ObjectType(additional_properties=th.NumberType),
            description=(
                "Override the plan's per-second limits per category, e.g. "
                '{"Heavy": 20} if Zoom raised your account\'s limit. Keys: Light, Medium, Heavy, '
                "Resource-intensive. These are the ACCOUNT's limits; rate_limit_share still "
                "applies."
            ),
        ),
        th.Property(
            "daily_request_budget",
            th.IntegerType,
            description=(
                "Heavy + Resource-intensive requests this tap may make per UTC day, counted across "
                "runs and processes that share quota_state_path. When spent, the tap saves state "
                "and exits with code 75 until 00:00 UTC. Default: half the plan's daily quota ("
                f"{plan_defaults})."
            ),
        ),
        th.Property(
            "quota_state_path",
            th.StringType,
            description=(
                "SQLite file remembering today's request count and any Zoom daily-limit lockout, "
                "so the budget holds across runs and pipelines. Default: "
                "$XDG_STATE_HOME/tap-zoom-defender/quota.sqlite (~/.local/state/...)."
            ),
        ),
        th.Property(
            "shared_rate_limits",
            th.BooleanType,
            default=False,
            description=(
                "Pace the per-second limits together with every other pipeline on this machine "
                "that uses the same quota_state_path and Zoom account, so rate_limit_share is the "
                "fraction they use together. Off: each process paces only itself."
            ),
        ),
    ]


def validate_config(config: Mapping[str, Any]) -> GovernorSettings:
    """Check the throttling settings; raise ``ValueError`` naming the setting to fix."""
    plan = config.get("plan") or "pro"
    if plan not in zoom_limits.PLANS:
        raise ValueError(f"plan: {plan!r} is not one of {', '.join(zoom_limits.PLANS)}")

    share = config.get("rate_limit_share")
    if share is None:
        share = DEFAULT_RATE_LIMIT_SHARE
    if not _is_number(share) or not 0 < float(share) <= 1:
        raise ValueError(f"rate_limit_share: must be a number above 0 and at most 1, got {share!r}")

    overrides_raw = config.get("rate_limits_per_second") or {}
    if not isinstance(overrides_raw, Mapping):
        raise ValueError(
            "rate_limits_per_second: must be an object mapping a category "
            f"({', '.join(zoom_limits.CATEGORIES)}) to requests per second"
        )
    overrides: dict[str, float] = {}
    for category, value in overrides_raw.items():
        if category not in zoom_limits.CATEGORIES:
            raise ValueError(
                f"rate_limits_per_second: unknown category {category!r}; "
                f"use {', '.join(zoom_limits.CATEGORIES)}"
            )
        if not _is_number(value) or not float(value) > 0 or not math.isfinite(float(value)):
            raise ValueError(
                f"rate_limits_per_second: {category} must be a positive number, got {value!r}"
            )
        overrides[category] = float(value)

    budget = config.get("daily_request_budget")
    if budget is None:
        budget = int(
            zoom_limits.DAILY_QUOTA[plan][zoom_limits.HEAVY] * DEFAULT_DAILY_BUDGET_FRACTION
        )
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValueError(
            f"daily_request_budget: must be a whole number of at least 1, got {budget!r}"
        )

    raw_path = config.get("quota_state_path")
    if raw_path is not None and (not isinstance(raw_path, str) or not raw_path.strip()):
        raise ValueError(f"quota_state_path: must be a file path, got {raw_path!r}")
    path = Path(raw_path).expanduser() if raw_path else default_quota_state_path()

    # The budget belongs to one Zoom account at one API endpoint; key the stored counters by both
    # so a sandbox on another port or another account never shares (or eats) this one's budget.
    identity = "|".join(
        str(config.get(key) or "") for key in ("api_url", "account_id", "client_id")
    )
    if not config.get("api_url"):
        identity = DEFAULT_API_URL + identity
    scope = hashlib.sha256(identity.encode()).hexdigest()[:24]

    shared = config.get("shared_rate_limits")
    if shared is None:
        shared = False
    if not isinstance(shared, bool):
        raise ValueError(f"shared_rate_limits: must be true or false, got {shared!r}")

    return GovernorSettings(
        plan=plan,
        shared_rate_limits=shared,
        rate_limit_share=float(share),
        rate_limits_per_second=overrides,
        daily_request_budget=budget,
        quota_state_path=path,
        scope=scope,
    )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _set_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL once, retrying while another process holds it.

    Changing the journal mode needs the file to itself and SQLite may answer "database is
    locked" at once instead of waiting for the busy timeout, which made a second pipeline that
    opened the same fresh file at the same moment fail. Once the file is in WAL mode (it stays
    so), nothing is switched any more.
    """
    deadline = time.monotonic() + _SQLITE_TIMEOUT_S
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class _QuotaStore:
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
                str(path), timeout=_SQLITE_TIMEOUT_S, isolation_level=None, check_same_thread=False
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


@dataclass
class _CategoryState:
    """Pacing state of one rate-limit category; guarded by ``lock``."""

    name: str
    ceiling: float  # requests/s we may use: account limit x share
    current: float  # requests/s we pace to now (<= ceiling; lowered by 429s)
    window: _LocalWindow | _SharedWindow
    lock: threading.Lock = field(default_factory=threading.Lock)
    paused_until: float = 0.0  # monotonic seconds
    margin: float = WINDOW_MARGIN_S
    last_decrease: float = -math.inf
    last_adjust: float = 0.0
    consecutive_429: int = 0
    requests: int = 0
    throttled: int = 0


class _LocalWindow:
    """One category's sliding-window log in this process (pyrate-limiter ``InMemoryBucket``)."""

    def __init__(self, name: str, rate: Rate) -> None:
        self._name = name
        self._bucket = InMemoryBucket([rate])

    def try_take(self) -> float:
        """Take a slot now and return 0, or return the seconds until one frees up."""
        item = RateItem(self._name, int(time.monotonic() * 1000))
        if self._bucket.put(item):
            if len(self._bucket.items) > 4 * self._bucket.rates[0].limit + 64:
                self._bucket.leak(item.timestamp)
            return 0.0
        return max(self._bucket.waiting(item), 1) / 1000

    def set_rate(self, rate: Rate) -> None:
        """Change the limit; slots already taken keep counting."""
        self._bucket.rates = [rate]

    def close(self) -> None:
        """Nothing to release."""


class _SharedWindow:
    """One category's sliding-window log in SQLite, shared by every process using the file.

    pyrate-limiter's ``SQLiteBucket`` keeps the log; ``BEGIN IMMEDIATE`` around its count-and-insert
    makes that atomic across processes without an extra file-lock dependency. Timestamps are wall
    clock (the only clock processes share).
    """

    _LEAK_EVERY = 256

    def __init__(self, name: str, rate: Rate, path: Path, table: str) -> None:
        self._name = name
        try:
            self._bucket = SQLiteBucket.init_from_file([rate], table=table, db_path=str(path))
            self._conn = self._bucket.conn
            self._conn.isolation_level = None  # we open the transactions ourselves
            self._conn.execute(f"PRAGMA busy_timeout = {int(_SQLITE_TIMEOUT_S * 1000)}")
        except (OSError, sqlite3.Error) as exc:
            raise ValueError(f"quota_state_path: cannot use {str(path)!r} ({exc})") from exc
        self._puts = 0

    def try_take(self) -> float:
        """Take a slot now and return 0, or return the seconds until one frees up."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            item = RateItem(self._name, self._bucket.now())
            if self._bucket.put(item):  # commits
                self._puts += 1
                if self._puts % self._LEAK_EVERY == 0:
                    self._bucket.leak(item.timestamp)
                return 0.0
            return max(self._bucket.waiting(item), 1) / 1000
        finally:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")

    def set_rate(self, rate: Rate) -> None:
        """Change this process's limit on the shared window."""
        self._bucket.rates = [rate]

    def close(self) -> None:
        """Close the bucket's connection."""
        self._conn.close()


def _rate_for(per_second: float, margin: float = WINDOW_MARGIN_S) -> Rate:
    """Return the pyrate-limiter rate: at most ``per_second`` in any (1 s + margin) window."""
    margin_ms = int(margin * 1000)
    if per_second >= 1:
        return Rate(math.floor(per_second + 1e-9), 1000 + margin_ms)
    # Below 1/s (Resource-intensive is per minute): evenly spaced single requests.
    return Rate(1, math.ceil(1000 / per_second) + margin_ms)


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
        self._store = _QuotaStore(settings.quota_state_path)
        self._paid_plan = settings.plan != "free"
        self._lockouts: dict[str, datetime] = {}
        self._lockouts_lock = threading.Lock()
        self._lateness = 0.0
        self._lateness_at = time.monotonic()
        self._lateness_lock = threading.Lock()
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
                    margin = self._margin(now)
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
            self._note_lateness(woke - wake_at, woke)

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

        if category in zoom_limits.SHARED_DAILY_CATEGORIES:
            # Zoom does not count a rejected request against the daily quota; neither do we.
            self._store.refund(self.settings.scope, wall_now.date().isoformat())
        with state.lock:
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
                bound = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** min(streak - 1, 16))
                delay = bound / 2 + random.uniform(0, bound / 2)
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

    def _make_window(self, category: str, per_second: float) -> _LocalWindow | _SharedWindow:
        if not self.settings.shared_rate_limits:
            return _LocalWindow(category, _rate_for(per_second))
        table = f"qps_{self.settings.scope}_{category.replace('-', '_').lower()}"
        return _SharedWindow(category, _rate_for(per_second), self.settings.quota_state_path, table)

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

    def _note_lateness(self, late: float, now: float) -> None:
        """Remember how late a thread woke: the decaying worst case sets the window margin."""
        with self._lateness_lock:
            decayed = self._lateness * 0.5 ** ((now - self._lateness_at) / LATENESS_HALF_LIFE_S)
            self._lateness = max(late, decayed)
            self._lateness_at = now

    def _margin(self, now: float) -> float:
        """Window margin for now: the base, or twice the recent worst lateness (10 ms steps)."""
        with self._lateness_lock:
            late = self._lateness * 0.5 ** ((now - self._lateness_at) / LATENESS_HALF_LIFE_S)
        return round(min(MAX_WINDOW_MARGIN_S, max(WINDOW_MARGIN_S, 2 * late)), 2)

    @staticmethod
    def _set_rate(state: _CategoryState, per_second: float) -> None:
        state.current = per_second
        state.window.set_rate(_rate_for(per_second, state.margin))
