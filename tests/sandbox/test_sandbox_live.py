"""Visibility over time: late arrivals, live mode and page snapshots."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from .helpers import fetch_all, window

ACTIVITIES = "/report/activities"
NOW = datetime(2026, 3, 4, 15, 30, tzinfo=timezone.utc)


def _late_account(sandbox_factory, **late_seconds: int):
    """Two busy days up to ``NOW``, half of the events showing up late by ``late_seconds``."""
    return sandbox_factory(
        users=100,
        days=2,
        events_per_user_day=20,
        now=NOW,
        late_fraction=0.5,
        rate_limits=False,
        **late_seconds,
    )


def _keys(records):
    return {(r["email"], r["time"], r["type"]) for r in records}


def test_late_arrivals_appear_later_with_times_in_the_past(sandbox_factory, api):
    sb = _late_account(sandbox_factory, late_min_seconds=600, late_max_seconds=1200)
    s = api(sb)
    params = {"from": "2026-03-04", "to": "2026-03-04", "page_size": 300}
    before = fetch_all(s, sb.api_url + ACTIVITIES, params, "activity_logs")
    assert before == sb.ground_truth("activities", start="2026-03-04T00:00:00Z")
    sb.advance_clock(1200)
    after = fetch_all(s, sb.api_url + ACTIVITIES, params, "activity_logs")
    new = [r for r in after if (r["email"], r["time"], r["type"]) not in _keys(before)]
    assert _keys(before) <= _keys(after)
    late = [r for r in new if r["time"] <= "2026-03-04T15:30:00Z"]
    assert late, "some records with times before the first sync must show up only now"
    assert after == sb.ground_truth("activities", start="2026-03-04T00:00:00Z")


def test_frozen_sandbox_does_not_change_by_itself(sandbox_factory):
    sb = sandbox_factory(users=30, days=1, live=False, clock_speed=10_000)
    first = sb.ground_truth("activities")
    time.sleep(0.2)  # 2000 sandbox seconds would pass if the data clock ran
    assert sb.ground_truth("activities") == first


def test_live_sandbox_keeps_producing_events(sandbox_factory):
    sb = sandbox_factory(users=60, days=1, live=True, clock_speed=20_000)
    first = len(sb.ground_truth("activities"))
    deadline = time.monotonic() + 10
    while len(sb.ground_truth("activities")) <= first:
        assert time.monotonic() < deadline, "no new events appeared in live mode"
        time.sleep(0.1)


def test_a_listing_reads_one_snapshot_even_if_records_arrive_meanwhile(sandbox_factory, api):
    sb = _late_account(sandbox_factory, late_min_seconds=60, late_max_seconds=600)
    s = api(sb)
    params = {"from": "2026-03-03", "to": "2026-03-04", "page_size": 50}
    snapshot = sb.ground_truth("activities", start="2026-03-03T00:00:00Z")
    first = s.get(sb.api_url + ACTIVITIES, params=params, timeout=10).json()
    sb.advance_clock(600)
    assert len(sb.ground_truth("activities", start="2026-03-03T00:00:00Z")) > len(snapshot)
    rest = fetch_all(
        s, sb.api_url + ACTIVITIES, params, "activity_logs", token=first["next_page_token"]
    )
    assert first["activity_logs"] + rest == snapshot


def test_windows_cover_what_ground_truth_says(sandbox_factory, api):
    sb = sandbox_factory(users=20, days=3, rate_limits=False)
    got = fetch_all(api(sb), sb.api_url + "/report/operationlogs", window(sb, 3), "operation_logs")
    assert got == sb.ground_truth("operation_logs")
