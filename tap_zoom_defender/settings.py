"""The tap's settings: their JSON schema (CONFIG_PROPERTIES) and the checks that name what to fix.

``check_settings`` returns one sentence per problem (the CLI prints one line each and exits 78);
``plain_numbers`` and ``coerce_env_strings`` bring config values into the types the checks expect.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from singer_sdk import typing as th

from tap_zoom_defender import prefetch, progress, throttle_settings, zoom_limits
from tap_zoom_defender.windows import MAX_WINDOW_DAYS

DEFAULT_API_URL = "https://api.zoom.us/v2"
DEFAULT_OAUTH_URL = "https://zoom.us/oauth/token"
DEFAULT_LOOKBACK_DAYS = 7
DEFAULT_LATE_ARRIVAL_HOURS = 6.0
MAX_LATE_ARRIVAL_HOURS = 7 * 24.0
DEFAULT_WINDOW_DAYS = 1

CONFIG_PROPERTIES = [
    th.Property(
        "account_id",
        th.StringType,
        description=(
            "Server-to-Server OAuth: the Zoom account id (App Credentials page of the "
            "Server-to-Server OAuth app). Leave empty when using refresh_token."
        ),
    ),
    th.Property(
        "client_id",
        th.StringType,
        description="Client ID of the Zoom app (either app type), from its App Credentials page.",
    ),
    th.Property(
        "client_secret",
        th.StringType,
        secret=True,
        description="Client secret of the Zoom app (either app type). Never logged.",
    ),
    th.Property(
        "refresh_token",
        th.StringType,
        secret=True,
        description=(
            "OAuth app: the refresh token from the admin's one-time consent. Zoom rotates it on "
            "every use; the newest one is kept in token_store_path, which wins over this setting "
            "until you paste a newly consented token here. Leave empty with account_id."
        ),
    ),
    th.Property(
        "token_store_path",
        th.StringType,
        description=(
            "OAuth app: file where the tap keeps the newest (rotated) refresh token and the "
            "current access token, written atomically with owner-only permissions. Required "
            "with refresh_token. Back it up like a secret."
        ),
    ),
    th.Property(
        "api_url",
        th.StringType,
        default=DEFAULT_API_URL,
        description=(
            "Zoom API base URL. When not set, the api_url in Zoom's token response is used "
            f"(default {DEFAULT_API_URL})."
        ),
    ),
    th.Property(
        "oauth_url",
        th.StringType,
        default=DEFAULT_OAUTH_URL,
        description="Zoom OAuth token endpoint.",
    ),
    th.Property(
        "plan",
        th.StringType,
        default="pro",
        allowed_values=list(zoom_limits.PLANS),
        description=(
            "The account's Zoom plan; sets the rate limits and daily quota the tap paces to "
            "(Zoom has no API that says which plan an account has)."
        ),
    ),
    th.Property(
        "lookback_days",
        th.IntegerType,
        default=DEFAULT_LOOKBACK_DAYS,
        description=(
            "First sync of activities/operation_logs starts this many days ago (ignored once a "
            f"bookmark exists, or when start_date is set). At most "
            f"{zoom_limits.REPORT_RETENTION_DAYS} (Zoom keeps reports about six months)."
        ),
    ),
    th.Property(
        "start_date",
        th.DateTimeType,
        description=(
            "First sync starts here instead of lookback_days (ISO-8601 date or date-time, UTC "
            "if no offset). Must lie within Zoom's six-month report retention."
        ),
    ),
    th.Property(
        "late_arrival_hours",
        th.NumberType,
        default=DEFAULT_LATE_ARRIVAL_HOURS,
        description=(
            "Zoom may show an event some time after it happened. Each incremental sync re-reads "
            "this many hours before the bookmark and emits only events not emitted before "
            "(fractions allowed)."
        ),
    ),
    th.Property(
        "operation_log_category",
        th.StringType,
        default="all",
        allowed_values=list(zoom_limits.OPERATION_LOG_CATEGORIES),
        description="Zoom's category_type filter for operation_logs (default all).",
    ),
    th.Property(
        "page_size",
        th.IntegerType,
        default=zoom_limits.MAX_PAGE_SIZE,
        description=f"Records per request, 1 to {zoom_limits.MAX_PAGE_SIZE}.",
    ),
    th.Property(
        "window_days",
        th.IntegerType,
        default=DEFAULT_WINDOW_DAYS,
        description=(
            "Days of report data per window (1 to "
            f"{MAX_WINDOW_DAYS}): one listing each, fetched concurrently (max_workers). The "
            "bookmark advances per completed window, so smaller windows resume more precisely "
            "and page in parallel; larger ones cost fewer requests on sparse accounts. Every "
            "day is requested once (only the sync range's outer edges are padded)."
        ),
    ),
    *throttle_settings.config_properties(),
    *prefetch.config_properties(),
    *progress.config_properties(),
]


def plain_numbers(value: Any) -> Any:
    """Return ``value`` with every Decimal (how the SDK reads JSON numbers) made a float/int."""
    if isinstance(value, Decimal):
        return (
            int(value)
            if value == value.to_integral_value() and "." not in str(value)
            else float(value)
        )
    if isinstance(value, dict):
        return {key: plain_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_numbers(item) for item in value]
    return value


def coerce_env_strings(config: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Parse number and object settings that arrive as text (``--config=ENV``, .env files).

    The SDK converts environment variables only for integer, boolean and array settings; the
    rest stay strings. A value that does not parse is left alone for the checks to report.
    """
    result = dict(config)
    for name, prop in schema.get("properties", {}).items():
        value = result.get(name)
        if not isinstance(value, str):
            continue
        types = prop.get("type")
        types = types if isinstance(types, list) else [types]
        try:
            if "number" in types:
                result[name] = float(value)
            elif "object" in types:
                result[name] = json.loads(value)
        except ValueError:
            pass
    return result


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_start_date(value: object) -> datetime:
    """Parse ``start_date`` (date or date-time; UTC unless it has an offset)."""
    if not isinstance(value, str):
        raise ValueError(value)
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _check_url(config: Mapping[str, Any], name: str) -> list[str]:
    value = config.get(name)
    if value is None:
        return []
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        return [f"{name}={value!r} is not an http(s) URL"]
    return []


def _check_credentials(config: Mapping[str, Any]) -> list[str]:
    problems = []
    account_id = config.get("account_id")
    refresh_token = config.get("refresh_token")
    store_path = config.get("token_store_path")
    if account_id and refresh_token:
        problems.append(
            "contradictory credentials: account_id (Server-to-Server OAuth) and refresh_token "
            "(OAuth app) are both set; remove one of them"
        )
    elif not account_id and not refresh_token and not store_path:
        problems.append(
            "no credentials: set account_id, client_id and client_secret (Server-to-Server "
            "OAuth app) or refresh_token, token_store_path, client_id and client_secret "
            "(OAuth app)"
        )
    elif not account_id and not store_path:
        problems.append(
            "refresh_token is set but token_store_path is not: Zoom replaces the refresh token "
            "on every use, so set token_store_path to a file the tap can write to keep the new one"
        )
    elif not account_id and store_path:
        path = Path(str(store_path)).expanduser()
        if path.is_dir():
            problems.append(f"token_store_path={store_path} is a directory; give a file path")
        elif not path.parent.is_dir():
            problems.append(
                f"token_store_path={store_path}: directory {path.parent} does not exist"
            )
        elif not os.access(path.parent, os.W_OK):
            problems.append(
                f"token_store_path={store_path}: directory {path.parent} is not writable"
            )
        elif not refresh_token and not path.exists():
            problems.append(
                f"token_store_path={store_path} does not exist yet and refresh_token is not set: "
                "set refresh_token to the token from the app's consent flow"
            )
    for name in ("client_id", "client_secret"):
        if not config.get(name):
            problems.append(f"{name} is not set: copy it from the Zoom app's App Credentials page")
    for name in ("account_id", "client_id", "client_secret", "refresh_token", "token_store_path"):
        value = config.get(name)
        if value is not None and not isinstance(value, str):
            problems.append(f"{name} must be a string")
    return problems


def _check_dates(config: Mapping[str, Any], now: datetime) -> list[str]:
    problems = []
    retention = zoom_limits.REPORT_RETENTION_DAYS
    lookback = config.get("lookback_days")
    if lookback is not None:
        if not _is_int(lookback) or lookback < 1:
            problems.append(f"lookback_days={lookback!r} must be a whole number of days, 1 or more")
        elif lookback > retention:
            problems.append(
                f"lookback_days={lookback} reaches beyond Zoom's report retention of {retention} "
                f"days (about six months): set lookback_days to {retention} or less"
            )
    start_date = config.get("start_date")
    if start_date is not None:
        try:
            start = parse_start_date(start_date)
        except (ValueError, TypeError):
            problems.append(
                f"start_date={start_date!r} is not an ISO-8601 date or date-time "
                "(e.g. 2026-01-31 or 2026-01-31T00:00:00Z)"
            )
        else:
            if start > now:
                problems.append(f"start_date={start_date} is in the future")
            elif start < now - timedelta(days=retention):
                problems.append(
                    f"start_date={start_date} lies beyond Zoom's report retention of {retention} "
                    "days (about six months): set a later start_date"
                )
    late = config.get("late_arrival_hours")
    if late is not None and (not _is_number(late) or not 0 <= late <= MAX_LATE_ARRIVAL_HOURS):
        problems.append(
            f"late_arrival_hours={late!r} must be a number from 0 to {MAX_LATE_ARRIVAL_HOURS:g}"
        )
    return problems


def _check_limits(config: Mapping[str, Any]) -> list[str]:
    problems = []
    plan = config.get("plan")
    if plan is not None and plan not in zoom_limits.PLANS:
        problems.append(f"plan={plan!r} is unknown: use one of {', '.join(zoom_limits.PLANS)}")
    category = config.get("operation_log_category")
    if category is not None and category not in zoom_limits.OPERATION_LOG_CATEGORIES:
        problems.append(
            f"operation_log_category={category!r} is unknown: use one of "
            f"{', '.join(zoom_limits.OPERATION_LOG_CATEGORIES)}"
        )
    page_size = config.get("page_size")
    if page_size is not None and (
        not _is_int(page_size) or not 1 <= page_size <= zoom_limits.MAX_PAGE_SIZE
    ):
        problems.append(
            f"page_size={page_size!r} must be a whole number from 1 to {zoom_limits.MAX_PAGE_SIZE}"
        )
    window_days = config.get("window_days")
    if window_days is not None and (
        not _is_int(window_days) or not 1 <= window_days <= MAX_WINDOW_DAYS
    ):
        problems.append(
            f"window_days={window_days!r} must be a whole number from 1 to {MAX_WINDOW_DAYS}"
        )
    if not problems:
        try:
            throttle_settings.validate_config(config)
        except ValueError as exc:
            setting, _, detail = str(exc).partition(": ")
            problems.append(f"{setting}: {detail}" if detail else str(exc))
    return problems


def check_settings(config: Mapping[str, Any], now: datetime | None = None) -> list[str]:
    """Every problem with the settings, one sentence each naming the setting to fix."""
    now = now or datetime.now(timezone.utc)
    return [
        *_check_credentials(config),
        *_check_url(config, "api_url"),
        *_check_url(config, "oauth_url"),
        *_check_limits(config),
        *_check_dates(config, now),
        *prefetch.check_config(config),
        *progress.check_config(config),
        *_check_maps_with_batches(config),
    ]


def _check_maps_with_batches(config: Mapping[str, Any]) -> list[str]:
    """Refuse stream_maps with batch_config: the SDK writes BATCH files without the maps.

    The SCHEMA message would say an email is hashed while the files hold it in clear text
    (meltano/sdk#1117): a privacy recipe that silently does nothing.
    """
    if config.get("stream_maps") and config.get("batch_config"):
        return [
            "stream_maps and batch_config are both set, but the Singer SDK writes BATCH files "
            "without applying stream maps (pseudonymised fields would leave in clear text): "
            "remove batch_config, or drop the maps"
        ]
    return []
