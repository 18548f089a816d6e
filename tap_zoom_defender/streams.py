"""The three Zoom streams: users (full snapshot), activities and operation_logs (incremental).

The report streams manage their own bookmark and dedupe state (see :mod:`windows`): Zoom serves
them newest first in day-granular windows, which the SDK's replication-key bookkeeping cannot
resume mid-stream. One *listing* (all pages of one window's request, or of one user status) is
the unit of fetching: :meth:`ReportStream.fetch_request` keys each record and tags it with the
window whose core holds it, touching no state, so listings run concurrently on the
:class:`~tap_zoom_defender.prefetch.Prefetcher`'s workers. :meth:`ReportStream.get_records` runs
on the SDK's thread: it emits window after window, oldest first, skips what was already emitted
and checkpoints the state after each window.

The SDK syncs one stream after another, but their listings need not wait for that: the tap calls
:meth:`~tap_zoom_defender.listing_stream.ListingStream.start_fetching` on every selected stream
when the sync starts, which plans the stream's listings (from its bookmark) and starts its
prefetcher right away (see :mod:`listing_stream`).
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterable, Iterator
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import SchemaDirectory, StreamSchema
from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from tap_zoom_defender import zoom_limits
from tap_zoom_defender.governor import QuotaExhausted
from tap_zoom_defender.graceful_stop import STOP
from tap_zoom_defender.listing_stream import ListingStream, SyncPlan
from tap_zoom_defender.prefetch import (
    Segment,
)
from tap_zoom_defender.windows import (
    IncrementalState,
    OccurrenceKeyer,
    ReplayFilter,
    Window,
    WindowLocator,
    parse_time,
    plan_windows,
    sync_range,
    utc_now,
)

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record

SCHEMAS = SchemaDirectory(importlib.resources.files("tap_zoom_defender") / "schemas")


class UsersStream(ListingStream):
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
        """List the statuses concurrently, emit them in turn; a user seen twice is sent once.

        On a daily-quota stop (the Free plan has a Medium quota) the users fetched so far are
        kept and the CLI exits 75 after the other streams.
        """
        emitted: set[str] = set()
        plan = self.take_plan()
        statuses = plan.tasks
        try:
            with (
                plan.fetcher() as fetcher,
                self.progress(len(statuses), unit="statuses") as progress,
            ):
                for index in range(len(statuses)):
                    for batch in fetcher.spool(index).take(lambda tag: True):
                        for record in batch:
                            STOP.check()  # a safe point: every record handed out was written
                            user_id = record.get("id")
                            if user_id in emitted:
                                continue
                            emitted.add(user_id)
                            yield record
                            progress.records += 1
                    fetcher.release(index)
                    progress.windows_done += 1
        except QuotaExhausted as exc:
            self._tap.note_quota_stop(exc)  # type: ignore[attr-defined]

    @override
    def plan_sync(self) -> SyncPlan:
        """Every user status, one listing each."""
        statuses = list(zoom_limits.USER_STATUSES)
        return SyncPlan(statuses, partial(self.prefetcher, statuses, self.fetch_status))

    def fetch_status(self, status: str) -> Iterator[Segment]:
        """Every user of one status, page by page (runs on a worker thread)."""
        # custom_attributes only come when asked for. host_key is deliberately neither requested
        # nor in the schema: it lets its holder claim host in the user's meetings (a secret, not
        # an identity attribute), and a SIEM does not need it.
        for page in self.listing({"status": status, "include_fields": "custom_attributes"}):
            for record in page:
                record.setdefault("status", status)
            yield 0, page

    @override
    def probe_params(self) -> dict[str, Any]:
        """Active users, first page."""
        return {"status": "active"}


class ReportStream(ListingStream):
    """An incremental Zoom report: windows oldest first, content-derived keys, bounded dedupe."""

    primary_keys = ("event_id",)
    replication_key = "time"
    is_sorted = False
    #: Report records are flat JSON strings already; :meth:`fetch_request` keeps only schema
    #: fields. The SDK's per-value conformance pass was 18% of the tap's CPU for nothing.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    #: No STATE every 10,000 records: :meth:`checkpoint` writes one after each window and on a
    #: stop. Mid-window the state carries the ids emitted so far, so on a dense account each of
    #: those STATEs grew to megabytes and their encoding dominated peak memory.
    STATE_MSG_FREQUENCY = 2**62
    #: Documented record fields (everything in the schema but event_id): the identity of a record.
    identity_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Create the stream; it remembers which unknown Zoom fields it already reported."""
        super().__init__(*args, **kwargs)
        self._unknown_fields_seen: set[str] = set()

    def _warn_unknown_fields(self, names: set[str]) -> None:
        """Say once per field name that Zoom sent a field the schema does not carry.

        The field is dropped (it is not part of the documented record, so ``event_id`` stays
        stable), but silently losing data Zoom started to send would hide it from the SOC.
        """
        new = names - self._unknown_fields_seen
        if new:
            self._unknown_fields_seen.update(new)
            self.logger.warning(
                "Zoom sent field(s) %s in %s that the tap's schema does not know; they are "
                "dropped. Upgrade tap-zoom-defender or report it so the schema can carry them",
                ", ".join(sorted(new)),
                self.name,
            )

    @property
    def late_arrival(self) -> timedelta:
        """How long after its ``time`` a record may still appear (``late_arrival_hours``)."""
        return timedelta(hours=float(self.config.get("late_arrival_hours", 0)))

    def window_params(self, window: Window) -> dict[str, Any]:
        """Query of one window's request (subclasses add their filters)."""
        return {"from": window.from_date.isoformat(), "to": window.to_date.isoformat()}

    def fetch_request(
        self,
        window: Window,
        locator: WindowLocator,
        coverage: dict[Window, float] | None = None,
    ) -> Iterator[Segment]:
        """Every record of ``window``'s request, keyed, tagged with the window that holds it.

        Runs on a worker thread and touches no state. Records outside the sync range are
        dropped; records of a neighbouring window (Zoom cut the day in another time zone) are
        tagged with that window's index, not lost. After an expired page token the listing
        starts over and :class:`ReplayFilter` drops what it already delivered. ``coverage``
        receives the share of the window's time span paged through so far (for the ETA).

        Zoom serves newest first, so once a whole page lies before the sync range the rest of
        the listing does too: the request that reaches back into the padding day (and the
        hours of the first day before the range starts) stops there instead of paging through
        a day of records it would drop. That keeps an incremental run to a page or two and a
        backfill to the pages that hold its data.
        """
        keyer = OccurrenceKeyer(self.identity_fields)
        replay = ReplayFilter()

        def restarted() -> None:
            keyer.reset()
            replay.restart()

        what = f"a {self.name} record from GET {self.path}"
        position = locator.position
        beyond = locator.count
        allowed = frozenset(self.schema["properties"])
        pages = self.listing(self.window_params(window), on_restart=restarted)
        try:
            for page in pages:
                keyer.next_page()
                tagged: dict[int, list[dict]] = {}
                before = 0
                for record in page:
                    index, key = position(record.get("time"), what=what)
                    if 0 <= index < beyond:
                        if not allowed.issuperset(record):  # a field Zoom added: not ours
                            self._warn_unknown_fields(record.keys() - allowed)
                            record = {k: v for k, v in record.items() if k in allowed}
                        keyer.assign(record)
                        if replay.fresh(key, record["event_id"]):
                            tagged.setdefault(index, []).append(record)
                    elif index < 0:
                        before += 1
                yield from tagged.items()
                if coverage is not None and page:
                    oldest = parse_time(page[-1].get("time"), what=what)
                    span = (window.end - window.start).total_seconds() or 1.0
                    done = (window.end - max(oldest, window.start)).total_seconds() / span
                    coverage[window] = min(1.0, max(coverage.get(window, 0.0), done))
                if page and before == len(page):
                    break
        finally:
            pages.close()
        if coverage is not None:
            coverage[window] = 1.0

    def plan(self, state: IncrementalState) -> list[Window]:
        """Return the windows this sync fetches, from the bookmark (or lookback) up to now.

        "Now" is the earlier of this machine's clock and Zoom's (see :mod:`zoom_clock`): a
        bookmark ahead of Zoom's clock would skip the events Zoom shows after this run.
        """
        now = self._tap.zoom_clock.sync_end()  # type: ignore[attr-defined]
        state.check_not_ahead(now)
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
        """Emit new records window by window; checkpoint state after each completed window.

        Window ``k`` takes its records from the requests of windows ``k - 1``, ``k`` and
        ``k + 1`` (see :mod:`windows`), so it is complete, and the bookmark moves past it, only
        after request ``k + 1`` finished. Records of a window are emitted together.
        """
        plan = self.take_plan()
        state, windows, coverage = plan.state, plan.tasks, plan.coverage
        assert state is not None
        if not windows:
            return
        last = len(windows) - 1
        try:
            with (
                plan.fetcher() as fetcher,
                self.progress(
                    len(windows), fetched=lambda: sum(coverage.values()) / len(windows)
                ) as progress,
            ):
                alive: list[int] = []  # requests whose spools may still hold records
                added = 0  # requests 0 .. added - 1 were taken into ``alive``
                emitted = 0
                for k, window in enumerate(windows):
                    while added <= min(k + 1, last):
                        alive.append(added)
                        added += 1
                    fresh = 0
                    for j in alive:
                        for batch in fetcher.spool(j).take(lambda tag, k=k: tag <= k):
                            for record in batch:
                                if state.is_seen(record):
                                    continue
                                # A safe point: every record handed out is written and marked;
                                # a stop settles the state and writes the final STATE below.
                                STOP.check()
                                yield record
                                state.mark_emitted(record)  # only after the SDK has written it
                                fresh += 1
                            progress.records = emitted + fresh
                    emitted += fresh
                    state.complete(window)
                    progress.windows_done += 1
                    self.logger.info(
                        "%s: window %s done, %d new record(s)", self.name, window, fresh
                    )
                    self.checkpoint()
                    for j in [j for j in alive if j <= k + 1 and fetcher.spool(j).drained]:
                        fetcher.release(j)
                        alive.remove(j)
        except QuotaExhausted as exc:
            state.settle()
            self.checkpoint()
            self._tap.note_quota_stop(exc)  # type: ignore[attr-defined]
        except Exception:
            state.settle()
            self.checkpoint()
            raise

    @override
    def plan_sync(self) -> SyncPlan:
        """Adopt the stream's state entry and plan the windows from its bookmark up to now."""
        state = IncrementalState(self.stream_state, late_arrival=self.late_arrival, name=self.name)
        windows = self.plan(state)
        coverage: dict[Window, float] = {}
        if windows:
            self.logger.info(
                "%s: %d window(s) from %s to %s",
                self.name,
                len(windows),
                windows[0].start.isoformat(),
                windows[-1].end.isoformat(),
            )
        fetch = partial(self.fetch_request, locator=WindowLocator(windows), coverage=coverage)
        return SyncPlan(
            windows,
            partial(self.prefetcher, windows, fetch),
            state=state,
            coverage=coverage,
        )

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


# The order the tap emits them in: users (a small snapshot) before the events, so a target that
# names accounts from users (target-defender's cloudappevents profile) knows every name before
# the first event of a run arrives. TapZoom.load_streams keeps this order (the SDK's own sorts
# by name).
STREAM_TYPES = (UsersStream, ActivitiesStream, OperationLogsStream)
