"""Settings of one emulated Zoom account.

Every knob has a default so ``SandboxConfig()`` is a realistic small Pro account; tests shrink
the knobs that would otherwise make them slow (token lifetimes, late-arrival delays, quotas).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tap_zoom_defender import zoom_limits

DEFAULT_REDIRECT_URI = "http://127.0.0.1:8765/oauth/callback"
"""The loopback redirect ``tap-zoom-defender authorize`` listens on with its default port."""
DEFAULT_SCOPES = ("user:read:admin", "report:read:admin")
"""Classic scopes covering the three endpoints; granular names work too (see ``auth.py``)."""


@dataclass
class SandboxConfig:
    """What the sandbox serves and how strict it is.

    Times are seconds of *sandbox* time (see ``SandboxClock``), which runs with the wall clock
    and can be pushed forward with ``Sandbox.advance_clock``.
    """

    plan: str = "pro"
    users: int = 50
    days: int = 8
    seed: int = 7
    # Auth.
    token_ttl: float = zoom_limits.ACCESS_TOKEN_TTL_SECONDS
    page_token_ttl: float = zoom_limits.PAGE_TOKEN_TTL_SECONDS
    auth_code_ttl: float = 300.0
    account_id: str = "sandbox-account-0001"
    client_id: str = "sandbox-client-id"
    client_secret: str = "sandbox-client-secret-not-a-real-one"  # noqa: S105 - demo credential
    # The OAuth app's registration: its one redirect URL (the consent page refuses any other)
    # and the scopes an admin's consent (and a Server-to-Server token) grants.
    redirect_uri: str = DEFAULT_REDIRECT_URI
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    # Rate limits. ``daily_quota`` None = the plan's quota; an int replaces every daily pool.
    rate_limits: bool = True
    daily_quota: int | None = None
    rate_limits_per_second: dict[str, float] | None = None
    # Reports that Zoom only serves to paid plans answer 400 on the free plan.
    paid_reports_only: bool = True
    # Clock. ``live`` = records keep becoming visible as sandbox time passes; otherwise the
    # dataset is frozen at the start time (``advance_clock`` still moves it forward).
    live: bool = False
    now: datetime | None = None  # anchor time (UTC); None = the real time at construction
    clock_speed: float = 1.0  # sandbox seconds per real second (live mode and token expiry)
    # Data volume and shape.
    events_per_user_day: float = 4.0
    operation_logs_per_day: float = 20.0
    late_fraction: float = 0.02  # share of records that become visible late
    late_min_seconds: float = 300.0
    late_max_seconds: float = 3 * 3600.0
    # Memory bound of the per-day record cache (records, across all cached days).
    cache_records: int = 300_000
    # The request log keeps this many most recent entries (bounded for long benchmarks).
    request_log_limit: int = 1_000_000
    # Network.
    host: str = "127.0.0.1"
    port: int = 0
    # Initial faults, as keyword arguments of ``Sandbox.set_faults`` (endpoint -> kwargs;
    # the key ``"*"`` means every endpoint).
    faults: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Reject impossible settings early, with the name of the setting to fix."""
        if self.plan not in zoom_limits.PLANS:
            raise ValueError(
                f"plan must be one of {', '.join(zoom_limits.PLANS)}, not {self.plan!r}"
            )
        if self.users < 1:
            raise ValueError("users must be at least 1")
        if self.days < 1:
            raise ValueError("days must be at least 1")
        if not 0.0 <= self.late_fraction <= 1.0:
            raise ValueError("late_fraction must be between 0 and 1")
        if self.late_max_seconds < self.late_min_seconds:
            raise ValueError("late_max_seconds must be >= late_min_seconds")
        if self.clock_speed <= 0:
            raise ValueError("clock_speed must be positive")
        if self.daily_quota is not None and self.daily_quota < 0:
            raise ValueError("daily_quota must be >= 0")
        if self.auth_code_ttl <= 0:
            raise ValueError("auth_code_ttl must be positive")
        self.scopes = tuple(self.scopes)

    def per_second_limits(self) -> dict[str, float]:
        """Requests/s per category: the plan's table with any overrides applied."""
        limits = dict(zoom_limits.RATE_LIMITS_PER_SECOND[self.plan])
        limits.update(self.rate_limits_per_second or {})
        return limits

    def daily_pools(self) -> dict[str, tuple[tuple[str, ...], int]]:
        """Daily quota pools: pool name -> (categories sharing it, requests per day).

        On Pro and above Heavy and Resource-intensive share one pool; on Free every category
        has its own. With ``rate_limits`` off, only an explicit ``daily_quota`` is enforced.
        """
        if not self.rate_limits and self.daily_quota is None:
            return {}
        pools: dict[str, tuple[tuple[str, ...], int]] = {}
        for category, quota in zoom_limits.DAILY_QUOTA[self.plan].items():
            if self.plan != "free" and category in zoom_limits.SHARED_DAILY_CATEGORIES:
                members: tuple[str, ...] = tuple(zoom_limits.SHARED_DAILY_CATEGORIES)
            else:
                members = (category,)
            pools[category] = (members, quota if self.daily_quota is None else self.daily_quota)
        return pools
