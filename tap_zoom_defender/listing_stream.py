"""ListingStream: the base of every Zoom stream here, paging one *listing* at a time.

A listing is all pages of one request (one report window, one user status). This module adds
what the SDK's paging loop lacks for Zoom: restarting a listing whose ``next_page_token`` Zoom
expired, within a request budget (:data:`REQUESTS_PER_PAGE_REACHED`), and fetching a stream's
listings early, on the :class:`~tap_zoom_defender.prefetch.Prefetcher`'s workers, from a
:class:`SyncPlan` made once per sync. The streams themselves live in :mod:`streams`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tap_zoom_defender.client import PageTokenExpiredError, ZoomStream
from tap_zoom_defender.prefetch import (
    DEFAULT_MAX_WORKERS,
    MAX_POOL_SIZE,
    Prefetcher,
    Segment,
    pool_size,
)
from tap_zoom_defender.progress import DEFAULT_PROGRESS_INTERVAL_S, Progress
from tap_zoom_defender.windows import (
    IncrementalState,
    Window,
)

if TYPE_CHECKING:
    pass

REQUESTS_PER_PAGE_REACHED = 15
"""How many requests a listing whose page tokens keep expiring may spend per page it reached.

A restart replays the listing from page 1 (a page token cannot be recreated), so each expiry
wastes the pages re-requested. Counting restarts would fail long listings that do progress: with
1 token in 10 expiring, a 20-page day completes a pass only 13% of the time, and a limit of 5
restarts without a new furthest page fails 22% of such listings (a run of 8 days then fails
most of the time). A budget of requests proportional to the pages reached bounds the waste
instead, whatever the listing's length, and gives up only when passes stop getting further:
simulated, 99.5% of 20-page listings complete at 10% expiry, with ~3.5x their requests.
"""


@dataclass
class SyncPlan:
    """What one sync of a stream fetches, planned once, and the prefetcher fetching it.

    Planned when the sync starts (see :meth:`ListingStream.start_fetching`) or, if the tap did
    not start it early, when the SDK gets to the stream. Either way ``get_records`` emits exactly
    this plan: the windows are computed once, from one "now".
    """

    tasks: list
    make: Callable[[], Prefetcher]
    state: IncrementalState | None = None  # report streams: their bookmark and dedupe set
    coverage: dict[Window, float] = field(default_factory=dict)
    _fetcher: Prefetcher | None = None
    _error: Exception | None = None

    def start(self) -> bool:
        """Create the prefetcher and send its first request now; False if either failed.

        An error is kept and raised by :meth:`fetcher`, i.e. on the SDK's thread when the
        stream's turn comes, exactly where it would have been raised without the early start.
        """
        if not self.tasks:  # nothing to fetch (get_records returns at once)
            return True
        try:
            self._fetcher = self.make()
        except Exception as exc:
            self._error = exc
            return False
        self._fetcher.start()
        return not self._fetcher.failed_early

    def fetcher(self) -> Prefetcher:
        """Return the prefetcher (started early or created now); raise what creating it raised."""
        if self._error is not None:
            raise self._error
        if self._fetcher is None:
            self._fetcher = self.make()
        return self._fetcher

    def close(self) -> None:
        """Stop the workers and delete the spools (idempotent)."""
        if self._fetcher is not None:
            self._fetcher.close()


class ListingStream(ZoomStream):
    """Adds restart-on-expired-page-token to the SDK's paging loop, and early fetching."""

    _early: SyncPlan | Exception | None = None  # made by start_fetching, not yet taken
    _current: SyncPlan | None = None  # this sync's plan, early or not: closed by stop_fetching

    def listing(
        self, params: dict[str, Any], on_restart: Callable[[], None] | None = None
    ) -> Iterator[list[dict]]:
        """Yield every page of one listing; restart it if Zoom expires the page token.

        A restart yields the first pages again: callers dedupe (users by id, reports by
        event_id after ``on_restart`` resets the occurrence counter). Restarts go on while the
        listing has spent at most :data:`REQUESTS_PER_PAGE_REACHED` requests per page it reached;
        beyond that it ends with an error naming it.
        """
        furthest = 0  # most pages any pass received
        requests = 0  # every request of every pass, the expired ones included
        restarts = 0
        while True:
            pages = 0
            try:
                for page in self.iter_pages(params):
                    pages += 1
                    yield page
                return
            except PageTokenExpiredError as exc:
                furthest = max(furthest, pages)
                requests += pages + 1
                if requests > REQUESTS_PER_PAGE_REACHED * (furthest + 1):
                    raise self.restarts_exhausted(
                        params, exc, expiries=restarts + 1, requests=requests, furthest=furthest
                    ) from None
                restarts += 1
                self.logger.warning(
                    "Zoom expired the page token of %s after page %d; restarting that listing "
                    "from page 1 (restart %d, %d requests so far, furthest page %d)",
                    self.describe_listing(params),
                    pages,
                    restarts,
                    requests,
                    furthest,
                )
                if on_restart:
                    on_restart()

    @property
    def max_workers(self) -> int:
        """The ``max_workers`` setting (1 = one request at a time)."""
        return int(self.config.get("max_workers") or DEFAULT_MAX_WORKERS)

    def plan_sync(self) -> SyncPlan:
        """Plan this sync's listings (subclasses); nothing is requested yet."""
        raise NotImplementedError

    def start_fetching(self) -> bool:
        """Plan this sync now and start fetching, long before the SDK emits this stream.

        Called by the tap for every selected stream when the sync starts (not with
        ``max_workers: 1``). Returns False when planning or the first request failed: the error
        is raised when the SDK gets to the stream, and the tap starts no further streams (they
        would only meet the same bad token, missing scope or spent quota).
        """
        try:
            plan = self.plan_sync()
        except Exception as exc:
            self._early = exc
            return False
        self._early = self._current = plan
        return plan.start()

    def stop_fetching(self) -> None:
        """Stop this sync's prefetcher: workers, spools, temp files (idempotent).

        ``get_records`` closes it too when it ends; this is for every other way out (an
        earlier stream's error, SIGTERM) while it may be fetching ahead.
        """
        if self._current is not None:
            self._current.close()
            self._current = None

    def take_plan(self) -> SyncPlan:
        """Return the plan :meth:`start_fetching` made (raise its error), else plan now."""
        early, self._early = self._early, None
        if isinstance(early, Exception):
            raise early
        if early is None:
            early = self._current = self.plan_sync()
        return early

    def prefetcher(self, tasks: list, fetch: Callable[[Any], Iterator[Segment]]) -> Prefetcher:
        """Return a pool for ``tasks``, sized from the budget and the first request's latency.

        The shared objects every worker uses are created here, on the SDK's thread, first.
        With several workers the pool shares the rate category's listing slots with the other
        streams (they may all be fetching at once) and has this stream's turn as priority.
        """
        _ = (self.authenticator, self.governor, self.url_base)
        budget = self.governor.budget_per_second(self.rate_category)
        slots = self._tap.listing_slots(self.rate_category)  # type: ignore[attr-defined]

        def size(latency: float) -> int:
            # What the whole budget can use: the category's listing slots, shared by every
            # stream fetching at once (an incremental run's 2 windows must not cap the others).
            budget_workers = pool_size(
                budget_per_second=budget,
                latency_s=latency,
                max_workers=self.max_workers,
                listings=MAX_POOL_SIZE,
            )
            slots.widen(budget_workers)
            workers = min(budget_workers, len(tasks))
            self.logger.info(
                "%s: %d listing(s), %d worker(s) (budget %.1f %s req/s, first request %.0f ms)",
                self.name,
                len(tasks),
                workers,
                budget,
                self.rate_category,
                latency * 1000,
            )
            return workers

        if self.max_workers == 1:
            return Prefetcher(tasks, self._on_worker(fetch), workers=1, name=self.name)
        return Prefetcher(
            tasks,
            self._on_worker(fetch),
            workers=size,
            name=self.name,
            slots=slots,
            priority=list(self._tap.streams).index(self.name),
        )

    def _on_worker(
        self, fetch: Callable[[Any], Iterator[Segment]]
    ) -> Callable[[Any], Iterator[Segment]]:
        """Wrap ``fetch`` so a worker thread closes its own HTTP session when it is done."""

        def run(task: Any) -> Iterator[Segment]:
            try:
                yield from fetch(task)
            finally:
                if self.max_workers > 1:
                    self.close_thread_session()

        return run

    def progress(
        self,
        total: int,
        unit: str = "windows",
        fetched: Callable[[], float] | None = None,
    ) -> Progress:
        """Return the progress reporter of one sync of this stream."""
        interval = self.config.get("progress_interval_seconds")
        return Progress(
            self.logger,
            self.name,
            total_windows=total,
            interval=DEFAULT_PROGRESS_INTERVAL_S if interval is None else float(interval),
            stats=self.governor.stats,
            category=self.rate_category,
            unit=unit,
            fetched=fetched,
        )

    def probe_params(self) -> dict[str, Any]:
        """Query of the single request ``--test`` sends to check credentials and scopes."""
        return {}

    def probe(self) -> None:
        """Send one request (first page only) so a missing scope or bad credential surfaces."""
        pages = self.iter_pages(self.probe_params())
        next(pages, None)
        pages.close()
