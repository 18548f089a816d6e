"""The throttling settings: their config schema, their validation, and the validated result.

``plan``, ``rate_limit_share``, ``rate_limits_per_second``, ``daily_request_budget``,
``quota_state_path`` and ``shared_rate_limits`` (see the README's "Throttling settings").
:func:`validate_config` turns the tap's config into :class:`GovernorSettings`, the only input the
rate governor (:mod:`tap_zoom_defender.governor`) is built from.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from singer_sdk import typing as th

from tap_zoom_defender import zoom_limits

DEFAULT_RATE_LIMIT_SHARE = 0.5
"""Half the account's per-second budget: fast for a backfill, leaves the rest to other apps."""

DEFAULT_DAILY_BUDGET_FRACTION = 0.5
"""Default ``daily_request_budget`` = this fraction of the plan's Heavy daily quota."""

DEFAULT_API_URL = "https://api.zoom.us/v2"


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
