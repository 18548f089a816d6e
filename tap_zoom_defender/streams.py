"""The three Zoom streams: users (full snapshot), activities and operation_logs (incremental).

The report streams manage their own bookmark and dedupe state (see :mod:`windows`): Zoom serves
them newest first in day-granular windows, which the SDK's replication-key bookkeeping cannot
resume mid-stream. :meth:`ReportStream.fetch_window` is the unit of fetching (all records of one
window, filtered and keyed); :meth:`ReportStream.get_records` walks windows oldest first, skips
what was already emitted and checkpoints the state after each window.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import SchemaDirectory, StreamSchema
from typing_extensions import override

from tap_zoom_defender import zoom_limits
from tap_zoom_defender.client import PageTokenExpiredError, ZoomStream
from tap_zoom_defender.governor import QuotaExhausted
from tap_zoom_defender.windows import (
    IncrementalState,
    OccurrenceKeyer,
    Window,
    parse_time,
    plan_windows,
    sync_range,
    utc_now,
)

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record

SCHEMAS = SchemaDirectory(importlib.resources.files("tap_zoom_defender") / "schemas")
MAX_LISTING_RESTARTS = 3
"""How often one listing may restart after Zoom expired its page token (15-minute lifetime)."""


class _ListingStream(ZoomStream):
    """Adds restart-on-expired-page-token to the SDK's paging loop."""

    def listing(
        self, params: dict[str, Any], on_restart: Callable[[], None] | None = None
    ) -> Iterator[dict]:
        """Yield every record of one listing; restart it if Zoom expires the page token.

        A restart yields the first pages again: callers dedupe (users by id, reports by
        event_id after ``on_restart`` resets the occurrence counter).
        """
        for attempt in range(MAX_LISTING_RESTARTS + 1):
            try:
                yield from self.request_records(params)
                return
            except PageTokenExpiredError:
                if attempt == MAX_LISTING_RESTARTS:
                    raise
                self.logger.warning(
                    "Zoom expired the page token of GET %s %s; restarting that listing",
                    self.path,
                    params,
                )
                if on_restart:
                    on_restart()
        return  # pragma: no cover

    def probe_params(self) -> dict[str, Any]:
        """Query of the single request ``--test`` sends to check credentials and scopes."""
        return {}

    def probe(self) -> None:
        """Send one request (first page only) so a missing scope or bad credential surfaces."""
        records = self.request_records(self.probe_params())
        next(iter(records), None)
        close = getattr(records, "close", None)
        if close:
            close()


class UsersStream(_ListingStream):
    """All users of the account, active, inactive and pending: a full snapshot every run."""

    name = "users"
    path = "/users"
    primary_keys = ("id",)
    replication_key = None
    records_field = "users"
    required_scopes = ("user:read:admin", "user:read:list_users:admin")
    schema = StreamSchema(SCHEMAS)

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        """List each status in turn; a user seen twice (status changed mid-run) is sent once.

        On a daily-quota stop (the Free plan has a Medium quota) the users fetched so far are
        kept and the CLI exits 75 after the other streams.
        """
        emitted: set[str] = set()
        try:
            for status in zoom_limits.USER_STATUSES:
                for record in self.listing({"status": status}):
                    user_id = record.get("id")
                    if user_id in emitted:
                        continue
                    emitted.add(user_id)
                    record.setdefault("status", status)
                    yield record
        except QuotaExhausted as exc:
            self._tap.note_quota_stop(exc)  # type: ignore[attr-defined]

    @override
    def probe_params(self) -> dict[str, Any]:
        """Active users, first page."""
        return {"status": "active"}


class ReportStream(_ListingStream):
    """An incremental Zoom report: windows oldest first, content-derived keys, bounded dedupe."""

    primary_keys = ("event_id",)
    replication_key = "time"
    is_sorted = False
    #: Documented record fields (everything in the schema but event_id): the identity of a record.
    identity_fields: ClassVar[tuple[str, ...]] = ()

    @property
    def late_arrival(self) -> timedelta:
        """How long after its ``time`` a record may still appear (``late_arrival_hours``)."""
        return timedelta(hours=float(self.config.get("late_arrival_hours", 0)))

    def window_params(self, window: Window) -> dict[str, Any]:
        """Query of one window's request (subclasses add their filters)."""
        return {"from": window.from_date.isoformat(), "to": window.to_date.isoformat()}

    def fetch_window(self, window: Window) -> Iterator[dict]:
        """Every record of ``window``: all pages, only times inside the core, ``event_id`` set.

        This is the unit of fetching: it touches no state, so windows can be fetched
        concurrently as long as their records are emitted (and completed) in window order.
        """
        keyer = OccurrenceKeyer(self.identity_fields)
        what = f"a {self.name} record from GET {self.path}"
        for record in self.listing(self.window_params(window), on_restart=keyer.reset):
            if window.contains(parse_time(record.get("time"), what=what)):
                yield keyer.assign(record)

    def plan(self, state: IncrementalState) -> list[Window]:
        """Return the windows this sync fetches, from the bookmark (or lookback) up to now."""
        now = utc_now()
        start_date = self.config.get("start_date")
        start, end = sync_range(
            state.bookmark,
            now=now,
            lookback_days=float(self.config.get("lookback_days", 7)),
            start_date=parse_time(start_date, what="start_date") if start_date else None,
            late_arrival=self.late_arrival,
        )
        if state.bookmark is not None and start > state.bookmark - self.late_arrival:
            self.logger.warning(
                "%s: the bookmark %s is older than Zoom's %d-day report retention; events "
                "before %s are no longer available",
                self.name,
                state.bookmark.isoformat(),
                zoom_limits.REPORT_RETENTION_DAYS,
                start.isoformat(),
            )
        return plan_windows(start, end, window_days=int(self.config.get("window_days", 7)), now=now)

    @override
    def get_records(self, context: Context | None) -> Iterable[Record]:
        """Emit new records window by window; checkpoint state after each completed window."""
        state = IncrementalState(self.stream_state, late_arrival=self.late_arrival, name=self.name)
        windows = self.plan(state)
        if windows:
            self.logger.info(
                "%s: %d window(s) from %s to %s",
                self.name,
                len(windows),
                windows[0].start.isoformat(),
                windows[-1].end.isoformat(),
            )
        try:
            for window in windows:
                fresh = 0
                for record in self.fetch_window(window):
                    if state.is_seen(record):
                        continue
                    yield record
                    state.mark_emitted(record)  # only after the SDK has written it
                    fresh += 1
                state.complete(window)
                self.logger.info("%s: window %s done, %d new record(s)", self.name, window, fresh)
                self.checkpoint()
        except QuotaExhausted as exc:
            self.checkpoint()
            self._tap.note_quota_stop(exc)  # type: ignore[attr-defined]
        except Exception:
            self.checkpoint()
            raise

    def checkpoint(self) -> None:
        """Write a STATE message now (bookmark + dedupe set reflect exactly what was emitted).

        In BATCH mode records leave the tap only when their batch file is announced, so the
        SDK's own STATE after each BATCH message is the only safe one: just mark the state dirty.
        """
        self.state_manager.is_flushed = False
        if not self.get_batch_config(self.config):
            self._write_state_message()

    @override
    def _increment_stream_state(self, latest_record: Record, *, context: Context | None = None):
        """Disabled: the SDK would move the bookmark to each record's time; windows.py owns it."""

    @override
    def probe_params(self) -> dict[str, Any]:
        """Yesterday and today: one small request."""
        today = utc_now().date()
        return {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()}


class ActivitiesStream(ReportStream):
    """Sign-in / sign-out report (GET /report/activities)."""

    name = "activities"
    path = "/report/activities"
    records_field = "activity_logs"
    required_scopes = ("report:read:admin", "report:read:user_activities:admin")
    identity_fields = ("email", "time", "type", "ip_address", "client_type", "version")
    schema = StreamSchema(SCHEMAS)


class OperationLogsStream(ReportStream):
    """Admin operation log (GET /report/operationlogs), filtered by ``operation_log_category``."""

    name = "operation_logs"
    path = "/report/operationlogs"
    records_field = "operation_logs"
    required_scopes = ("report:read:admin", "report:read:operation_logs:admin")
    identity_fields = ("time", "operator", "category_type", "action", "operation_detail")
    schema = StreamSchema(SCHEMAS)

    @override
    def window_params(self, window: Window) -> dict[str, Any]:
        """Add Zoom's ``category_type`` filter."""
        params = super().window_params(window)
        params["category_type"] = self.config.get("operation_log_category", "all")
        return params

    @override
    def probe_params(self) -> dict[str, Any]:
        """Send the same small request, with the category filter the sync will use."""
        params = super().probe_params()
        params["category_type"] = self.config.get("operation_log_category", "all")
        return params


STREAM_TYPES = (ActivitiesStream, OperationLogsStream, UsersStream)
