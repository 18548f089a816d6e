"""Hostile paging and header-less 429s through the real CLI, against a real local HTTP server.

Zoom's ``next_page_token`` may repeat or go round in a circle, expire again and again, and a 429
may come without any header saying when to retry. Each test counts the requests the server saw,
so "bounded" is checked, not assumed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from tap_zoom_defender.listing_stream import REQUESTS_PER_PAGE_REACHED

from .helpers import StubZoom, run_tap, seen_ids

ACTIVITIES = "/v2/report/activities"
HEAVY = (ACTIVITIES, "/v2/report/operationlogs")
EXPIRED = (400, {"code": 300, "message": "The next page token is invalid or expired."}, [])
EXIT_API = 76


def _expect_one_error(run, *needles: str) -> str:
    """Exit 76, no traceback, exactly one ERROR line holding every needle."""
    assert run.returncode == EXIT_API, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    lines = run.error_lines()
    assert len(lines) == 1, lines
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


class Listing:
    """GET /report/activities as a listing of ``pages`` pages of two records each.

    The first request of a pass (no token) starts a new attempt; a token names its attempt and
    page. ``expires(attempt, page)`` says whether the token for ``page`` is answered "expired".
    Every query is kept, so a test knows the window the tap asked for.
    """

    def __init__(self, pages: int, expires: Callable[[int, int], bool]) -> None:
        self.pages = pages
        self.expires = expires
        self.attempts = 0
        self.queries: list[dict] = []
        self._lock = threading.Lock()
        now = datetime.now(timezone.utc) - timedelta(minutes=5)
        self.records = {
            page: [
                {
                    "email": f"user{page}-{i}@example.com",
                    "time": (now - timedelta(minutes=2 * page + i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "type": "Sign in",
                    "ip_address": "10.0.0.1",
                    "client_type": "Browser",
                    "version": "6.0.0",
                }
                for i in range(2)
            ]
            for page in range(1, pages + 1)
        }

    def __call__(self, query: dict) -> tuple:
        with self._lock:
            self.queries.append(query)
            token = query.get("next_page_token", [""])[0]
            if not token:
                self.attempts += 1
                attempt, page = self.attempts, 1
            else:
                attempt, page = (int(part) for part in token.split("-"))
                if self.expires(attempt, page):
                    return EXPIRED
        following = f"{attempt}-{page + 1}" if page < self.pages else ""
        return 200, {"next_page_token": following, "activity_logs": self.records[page]}, []

    def window(self) -> tuple[str, str]:
        """The ``from`` and ``to`` the tap asked for."""
        first = self.queries[0]
        return first["from"][0], first["to"][0]


def _emails(records: list[dict]) -> set[str]:
    return {r["email"] for r in records}


def test_restarts_that_get_further_do_not_count(tmp_path):
    # Attempt a receives pages 1..a, then its next token expires: six restarts, each getting one
    # page further than the one before, then a clean pass. A fixed limit of 3 gave up here.
    listing = Listing(pages=8, expires=lambda attempt, page: attempt <= 6 and page == attempt + 1)
    with StubZoom({ACTIVITIES: listing}, "tok-paging-1") as zoom:
        run = run_tap(tmp_path, zoom.tap_config(window_days=28))

    assert run.returncode == 0, run.stderr[-3000:]
    assert listing.attempts == 7
    # Attempt a costs a + 1 requests (a pages and the expired one); the last pass costs 8.
    assert len(listing.queries) == sum(a + 1 for a in range(1, 7)) + 8
    records = run.records("activities")
    assert len(records) == 16  # every record once: the replayed pages were skipped
    assert _emails(records) == {r["email"] for page in listing.records.values() for r in page}


def test_a_long_listing_survives_many_restarts_that_get_no_further(tmp_path):
    # 20 pages: the first pass reaches page 10, the next six expire at page 3 (no further than
    # before), the eighth goes through. Counting restarts without progress gave up at the sixth;
    # the request budget (15 per page reached) allows them: 11 + 6 x 4 + 20 requests.
    def expires(attempt: int, page: int) -> bool:
        return (attempt == 1 and page == 11) or (2 <= attempt <= 7 and page == 4)

    listing = Listing(pages=20, expires=expires)
    with StubZoom({ACTIVITIES: listing}, "tok-paging-long") as zoom:
        run = run_tap(tmp_path, zoom.tap_config(window_days=28))

    assert run.returncode == 0, run.stderr[-3000:]
    assert listing.attempts == 8
    assert len(listing.queries) == 11 + 6 * 4 + 20
    records = run.records("activities")
    assert len(records) == 40  # every record once
    assert _emails(records) == {r["email"] for page in listing.records.values() for r in page}


def test_restarts_without_progress_give_up_bounded_with_one_clear_line(tmp_path):
    # Every token expires: the listing never gets past page 1.
    listing = Listing(pages=5, expires=lambda attempt, page: True)
    with StubZoom({ACTIVITIES: listing}, "tok-paging-2") as zoom:
        run = run_tap(tmp_path, zoom.tap_config(window_days=28))

    start, end = listing.window()
    _expect_one_error(
        run,
        "GET /report/activities",
        f"from={start}",
        f"to={end}",
        "got no further than page 1",
        "Run again",
        "window_days 1 (now 28)",  # each pass replays the listing: shorter listings help
    )
    # Each pass costs page 1 plus the expired request; the listing gives up at the first pass
    # that takes it past REQUESTS_PER_PAGE_REACHED requests per page reached (here 1 page).
    assert len(listing.queries) == 2 * listing.attempts
    budget = REQUESTS_PER_PAGE_REACHED * (1 + 1)
    assert 2 * (listing.attempts - 1) <= budget < 2 * listing.attempts
    # What the line promises: page 1's records were emitted once and are in the saved state.
    records = run.records("activities")
    assert _emails(records) == _emails(listing.records[1])
    assert len(records) == 2
    seen = seen_ids(run.state["bookmarks"]["activities"])
    assert all(r["event_id"][:16] in seen for r in records)


@pytest.mark.parametrize(
    ("following", "requests"),
    [
        pytest.param({"": "tok-A", "tok-A": "tok-A"}, 2, id="repeated"),
        pytest.param({"": "tok-A", "tok-A": "tok-B", "tok-B": "tok-A"}, 3, id="cycle"),
    ],
)
def test_looping_page_tokens_stop_at_the_first_repeat(tmp_path, following, requests):
    queries: list[dict] = []

    def activities(query: dict) -> tuple:
        queries.append(query)
        token = query.get("next_page_token", [""])[0]
        # Without loop detection the listing would never end; the stub ends it after 40 pages
        # so that a broken tap fails this test instead of hanging it.
        nxt = following[token] if len(queries) < 40 else ""
        at = (datetime.now(timezone.utc) - timedelta(minutes=len(queries))).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        record = {"email": f"u{len(queries)}@example.com", "time": at, "type": "Sign in"}
        return 200, {"next_page_token": nxt, "activity_logs": [record]}, []

    with StubZoom({ACTIVITIES: activities}, "tok-paging-3") as zoom:
        run = run_tap(tmp_path, zoom.tap_config(window_days=28))

    start, end = queries[0]["from"][0], queries[0]["to"][0]
    line = _expect_one_error(run, "GET /report/activities", f"from={start}", f"to={end}", "circle")
    assert "tok-A" not in line and "tok-B" not in line  # page tokens are opaque, not shown
    assert len(queries) == requests  # caught at the first repeated token, never sent again


def test_429_without_headers_holds_the_category_a_full_second(tmp_path):
    # Each report listing's first request gets a bare 429 (no Retry-After, no X-RateLimit-*).
    lock = threading.Lock()
    refused: set[str] = set()
    throttled_at: list[float] = []

    def activities(query: dict) -> tuple:
        with lock:
            window = query["from"][0]
            if window not in refused:
                refused.add(window)
                throttled_at.append(time.monotonic())
                return 429, {"code": 429, "message": "Too many requests."}, []
        return 200, {"next_page_token": "", "activity_logs": []}, []

    with StubZoom({ACTIVITIES: activities}, "tok-bare-429") as zoom:
        run = run_tap(tmp_path, zoom.tap_config(window_days=1, lookback_days=2, max_workers=1))

    assert run.returncode == 0, run.stderr[-3000:]
    assert len(throttled_at) >= 3  # one per window: independent 429s, not one backoff streak
    heavy = sorted(t for path, t in zoom.arrivals if path in HEAVY)
    for at in throttled_at:
        after = [t for t in heavy if t > at]
        assert after, "nothing was retried"
        # Zoom counts per second: no Heavy request may reach it within a second of the 429.
        assert after[0] - at >= 1.0, f"next Heavy request {after[0] - at:.3f} s after a bare 429"
