"""Concurrent backfill over real HTTP: exact data, order, pacing, progress, and time zones."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from tests.rate_windows import max_in_any_window

from .helpers import (
    ZoneShiftedZoom,
    as_counter,
    run_tap,
    when,
)


def test_concurrent_backfill_is_exact_ordered_and_within_budget(tmp_path, sandbox_factory):
    # 8 day windows of ~100 sign-ins, 30 per page: ~36 Heavy requests at 10/s (Pro, share 1.0),
    # 30 ms latency each so that several listings really are in flight together.
    sb = sandbox_factory(users=30, days=8, late_fraction=0.0)
    sb.set_faults(latency=0.03)
    config = sb.tap_config(
        window_days=1,
        lookback_days=7,
        page_size=30,
        rate_limit_share=1.0,
        max_workers=4,
        progress_interval_seconds=0.5,
    )
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr[-3000:]

    # Exactly the account's data for the synced range, nothing twice.
    records = run.records("activities")
    ids = [r["event_id"] for r in records]
    assert len(ids) == len(set(ids))
    bookmark = when(run.state["bookmarks"]["activities"]["replication_key_value"])
    start = bookmark - timedelta(days=7)
    assert as_counter(records) == as_counter(sb.ground_truth("activities", start, bookmark))

    # Each day is requested once and only its data is paged through: the first request, padded
    # with the day before the range, stops after the first page that lies wholly before it.
    per_day = Counter(when(r["time"]).date() for r in records)
    pages_holding_data = sum(math.ceil(n / 30) for n in per_day.values())
    requests = [e for e in sb.request_log if e.endpoint == "/report/activities"]
    assert pages_holding_data <= len(requests) <= pages_holding_data + 2

    # Records leave window by window, oldest window first, each window's records together.
    days = [when(r["time"]).date() for r in records]
    assert days == sorted(days)

    # Fetched concurrently. The sandbox holds each request 30 ms before admitting it, so one
    # request at a time can never be admitted less than 30 ms after the previous one.
    admitted = sorted(e.t for e in sb.request_log if e.endpoint == "/report/activities")
    gaps = [b - a for a, b in itertools.pairwise(admitted)]
    assert min(gaps) < 0.03, "listings were fetched one after another"

    # ...and never faster than the budget in any one-second window, without a single 429.
    log = [e for e in sb.request_log if e.category == "Heavy"]
    assert [e for e in log if e.status == 429] == []
    assert max_in_any_window([e.t for e in log]) <= 10

    # A progress line per stream, at the interval, naming the figures a user watches.
    lines = [ln for ln in run.stderr.splitlines() if "activities progress:" in ln]
    assert lines, run.stderr[-2000:]
    assert all(
        "windows," in ln
        and "% fetched" in ln
        and "records," in ln
        and "Heavy req/s" in ln
        and "HTTP 429" in ln
        for ln in lines
    )
    assert "ETA" in lines[-1]
    assert sb.client_secret not in run.stderr


@pytest.mark.parametrize("offset_hours", [10, -8])
def test_each_day_requested_once_and_no_event_lost_to_time_zones(tmp_path, offset_hours):
    # Zoom may cut report days in the account's time zone. Events every 97 minutes for 5 days,
    # served by days of UTC+10 (or UTC-8): records near every UTC midnight come back in the
    # neighbouring window's request and must still be emitted, once, in their own window.
    now = datetime.now(timezone.utc).replace(microsecond=0)
    times = [now - timedelta(minutes=97 * i) for i in range(1, 5 * 24 * 60 // 97)]
    records = [
        {
            "email": f"user{i % 7}@example.com",
            "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "type": "Sign in" if i % 2 else "Sign out",
            "ip_address": f"10.0.{i % 5}.{i % 250}",
            "client_type": "Mac",
            "version": "6.1.0",
        }
        for i, moment in enumerate(times)
    ]
    start = now - timedelta(days=3, hours=5)
    with ZoneShiftedZoom(records, offset_hours) as zoom:
        config = zoom.tap_config(
            start_date=start.isoformat(), window_days=1, late_arrival_hours=0, max_workers=4
        )
        run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr[-3000:]

    emitted = run.records("activities")
    want = [r for r in records if when(r["time"]) >= start]
    assert sorted(r["time"] for r in emitted) == sorted(r["time"] for r in want)
    assert len({r["event_id"] for r in emitted}) == len(emitted)

    # Every day from the padding day before start to the day after today asked for once.
    days = []
    for low, high in zoom.requests:
        day = datetime.fromisoformat(low).date()
        while day <= datetime.fromisoformat(high).date():
            days.append(day)
            day += timedelta(days=1)
    assert len(days) == len(set(days)), f"a day was requested twice: {zoom.requests}"
    first, last = start.date() - timedelta(days=1), now.date() + timedelta(days=1)
    assert sorted(days) == [first + timedelta(days=n) for n in range((last - first).days + 1)]

    # Bookmark is the end of the synced range: nothing before it is missing (checked above).
    assert when(run.state["bookmarks"]["activities"]["replication_key_value"]) >= now
