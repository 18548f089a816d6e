"""TapZoom: settings, their validation, the stream list and the CLI's error handling.

Expected problems (bad settings, rejected credentials, a missing scope, Zoom errors, the daily
quota) end the CLI with one clear log line and a documented exit code, never a traceback:

=====  ==========================================================================
code   meaning
=====  ==========================================================================
0      success
65     Zoom (or whatever answers at api_url) sent data we cannot parse; bad --state
69     Zoom unreachable, or kept failing after retries: try again later
75     daily quota/budget spent: data so far emitted, state saved; rerun after reset
76     Zoom rejected a request (its code and message are in the line)
77     credentials rejected, or the app lacks a scope (the line names it)
78     a setting is missing, invalid or contradictory (the line names it)
1      a bug: the traceback is printed
=====  ==========================================================================
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers._util import load_json
from singer_sdk.plugin_base import SingerCommand, _ConfigInput
from singer_sdk.tap_base import CliTestOptionValue
from typing_extensions import override

from tap_zoom_defender import governor as governor_module
from tap_zoom_defender import prefetch, progress, zoom_limits
from tap_zoom_defender.auth import TokenStore, ZoomAuthenticator
from tap_zoom_defender.config_files import ConfigFileErrors
from tap_zoom_defender.errors import (
    AuthError,
    ConfigError,
    InputFileError,
    QuotaStop,
    RedactingFilter,
    StateError,
    ZoomTapError,
    register_secret,
)
from tap_zoom_defender.governor import QuotaExhausted, RateGovernor
from tap_zoom_defender.message_writer import ZoomMessageWriter
from tap_zoom_defender.streams import STREAM_TYPES, ListingStream
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
            "OAuth app: file where the tap keeps the newest (rotated) refresh token, written "
            "atomically with owner-only permissions. Required with refresh_token. Back it up "
            "like a secret."
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
    *governor_module.config_properties(),
    *prefetch.config_properties(),
    *progress.config_properties(),
]


def _plain_numbers(value: Any) -> Any:
    """Return ``value`` with every Decimal (how the SDK reads JSON numbers) made a float/int."""
    if isinstance(value, Decimal):
        return (
            int(value)
            if value == value.to_integral_value() and "." not in str(value)
            else float(value)
        )
    if isinstance(value, dict):
        return {key: _plain_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(item) for item in value]
    return value


def _coerce_env_strings(config: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
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
            governor_module.validate_config(config)
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
    ]


class _ZoomCommand(SingerCommand):
    """The SDK's command, but expected errors end as one log line and their exit code."""

    @override
    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Run the CLI; a ZoomTapError becomes one line (per config problem) and exit code."""
        _install_redaction()
        try:
            return super().main(*args, **kwargs)
        except QuotaExhausted as exc:  # only outside a sync (e.g. --test): a sync stops cleanly
            self.logger.warning("Stopped: %s; run again after the reset", exc)
            sys.exit(QuotaStop.exit_code)
        except ZoomTapError as exc:
            if isinstance(exc, ConfigError):
                for problem in exc.problems:
                    self.logger.error("Configuration error: %s", problem)
            elif isinstance(exc, QuotaStop):
                self.logger.warning("%s", exc)
            else:
                self.logger.error("%s", exc)
            sys.exit(exc.exit_code)


def _install_redaction() -> None:
    """Mask registered secrets in every log line, whichever logger wrote it."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


class TapZoom(ConfigFileErrors, Tap):
    """Zoom users, sign-in/sign-out activity and admin operation logs, for security monitoring."""

    name = "tap-zoom-defender"
    package_name = "tap-zoom-defender"
    config_jsonschema = th.PropertiesList(*CONFIG_PROPERTIES).to_dict()
    message_writer_class = ZoomMessageWriter

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Create the tap; the quota-stop marker must exist before streams run."""
        self.quota_stop: QuotaExhausted | None = None
        self._explicit_api_url = False
        self._listing_slots: dict[str, prefetch.ListingSlots] = {}
        super().__init__(*args, **kwargs)

    # --------------------------------------------------------------------------- settings

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Our checks first (clear sentences naming the setting), then the SDK's JSON schema."""
        # Config files are parsed with Decimal for numbers; every check (ours, the governor's)
        # and every use wants plain floats.
        self._config = _coerce_env_strings(_plain_numbers(self._config), self.config_jsonschema)
        self._explicit_api_url = bool(self._config.get("api_url"))
        for name in ("client_secret", "refresh_token"):
            value = self._config.get(name)
            if isinstance(value, str):
                register_secret(value)
        if raise_errors:
            problems = check_settings(self._config)
            if problems:
                raise ConfigError(problems)
        try:
            return super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:
            raise ConfigError([f"invalid setting: {error}" for error in exc.errors]) from None

    # ---------------------------------------------------------------------- shared objects

    @cached_property
    def authenticator(self) -> ZoomAuthenticator:
        """The one authenticator (and so the one token) all streams share."""
        config = self.config
        store_path = config.get("token_store_path")
        s2s = bool(config.get("account_id"))
        store = TokenStore(Path(store_path).expanduser()) if store_path and not s2s else None
        return ZoomAuthenticator(
            oauth_url=config.get("oauth_url") or DEFAULT_OAUTH_URL,
            client_id=config["client_id"],
            client_secret=config["client_secret"],
            account_id=config["account_id"] if s2s else None,
            refresh_token=None if s2s else config.get("refresh_token"),
            token_store=store,
        )

    @cached_property
    def governor(self) -> RateGovernor:
        """The one rate governor of this process (plan-aware pacing, daily budget)."""
        try:
            return RateGovernor.from_config(self.config)
        except ValueError as exc:
            raise ConfigError([str(exc)]) from None

    @property
    def api_base_url(self) -> str:
        """The API base: the api_url setting, or else the one Zoom's token response names."""
        if self._explicit_api_url:
            return str(self.config["api_url"]).rstrip("/")
        self.authenticator.ensure_token()
        return (self.authenticator.token_api_url or DEFAULT_API_URL).rstrip("/")

    # ---------------------------------------------------------------------------- streams

    @override
    def discover_streams(self) -> list:
        """Return the three streams (their schemas are static)."""
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]

    def note_quota_stop(self, exc: QuotaExhausted) -> None:
        """Remember that a stream stopped at the daily quota; the CLI exits 75 at the end."""
        if self.quota_stop is None:
            self.quota_stop = exc

    def listing_slots(self, category: str) -> prefetch.ListingSlots:
        """Return the listing slots of one rate category, shared by every stream's pool.

        Called on the SDK's thread only (a stream creating its pool); the slots themselves are
        used by the worker threads and are thread-safe.
        """
        return self._listing_slots.setdefault(category, prefetch.ListingSlots())

    @override
    def sync_all(self) -> None:
        """Start every selected stream's listings now, then let the SDK emit stream by stream.

        The SDK syncs one stream after another: operation logs and users would only be requested
        once every activity record was emitted (CPU bound), the rate budget idle meanwhile. So
        each selected stream plans its sync (from its bookmark) and starts its prefetcher here,
        in the SDK's stream order; the SDK then emits each stream as before, from that plan,
        with the same records and STATE. Listings of streams sharing a rate budget take turns
        through its listing slots, the stream emitted first served first. With
        ``max_workers: 1`` nothing starts early (one request at a time, the SDK's way).

        Whatever ends the sync (an error, a quota stop, SIGTERM's SystemExit) closes every
        started prefetcher: workers stop after their current request, spools and temp files go.
        """
        early = True
        with contextlib.ExitStack() as fetching:
            for stream in self.streams.values():
                if (
                    not isinstance(stream, ListingStream)
                    or stream.parent_stream_type
                    or not (stream.selected or stream.has_selected_descendents)
                ):
                    continue  # the SDK skips it too: nothing to fetch
                fetching.callback(stream.stop_fetching)
                # After a failed start its error is raised at its turn; the rest would meet it.
                early = early and stream.max_workers > 1 and stream.start_fetching()
            super().sync_all()

    def check_access(self) -> None:
        """``--test``: get a token, then one request per endpoint; name every missing scope."""
        self.authenticator.ensure_token()
        self.logger.info("Zoom accepted the credentials (%s)", self.authenticator.mode)
        missing: list[str] = []
        for stream in self.streams.values():
            try:
                stream.probe()  # type: ignore[attr-defined]
            except AuthError as exc:
                if "lacks the scope" not in str(exc):
                    raise
                missing.append(str(exc))
                continue
            self.logger.info("Stream %s: GET %s OK", stream.name, stream.path)  # type: ignore[attr-defined]
        if missing:
            raise AuthError("; ".join(missing))
        self.logger.info("Connection test passed: credentials valid, every scope granted")

    # -------------------------------------------------------------------------------- CLI

    @classmethod
    @override
    def get_singer_command(cls) -> click.Command:
        """Return the SDK's command, with one-line errors and exit codes for expected problems."""
        command = super().get_singer_command()
        return _ZoomCommand(
            name=command.name,
            callback=command.callback,
            params=command.params,
            help=command.help,
            context_settings=command.context_settings,
            logger=cls.logger,
        )

    @classmethod
    @override
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: _ConfigInput | None = None,
        state: Any = None,
        catalog: Any = None,
    ) -> None:
        """Run a sync; bad --state is an error line, and a quota stop exits 75 after STATE."""
        super(Tap, cls).invoke(about=about, about_format=about_format)
        cls.print_version(print_fn=cls.logger.info)
        config = config or _ConfigInput()
        state_dict = None
        if state is not None:
            try:
                state_dict = load_json(state.read())
            except ValueError:
                raise StateError(
                    f"--state {state.name}: not valid JSON; fix it or drop it"
                ) from None
        catalog_dict = None
        if catalog is not None:
            try:
                catalog_dict = load_json(catalog.read())
            except ValueError:
                raise InputFileError(
                    f"--catalog {catalog.name}: not valid JSON; fix it, or regenerate it with "
                    "--discover"
                ) from None
        tap = cls(
            config=config.config,
            state=state_dict,
            catalog=catalog_dict,
            parse_env_config=config.parse_env,
            validate_config=True,
        )
        tap.sync_all()
        if tap.quota_stop is not None:
            raise QuotaStop(
                f"Stopped early: {tap.quota_stop}. Everything fetched so far was emitted and the "
                "state saved; run again after the reset to resume"
            )

    @classmethod
    @override
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """``--test``: check credentials and every scope with one request per endpoint."""
        if value != CliTestOptionValue.All.value:
            super().cb_test(ctx, param, value)
            return
        config: _ConfigInput = ctx.params.get("config", _ConfigInput())
        tap = cls(config=config.config, parse_env_config=config.parse_env, validate_config=True)
        tap.check_access()
        ctx.exit()


if __name__ == "__main__":
    TapZoom.cli()
