"""GET /v2/report/activities and /v2/report/operationlogs: ranges, order, paging, tokens."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from .helpers import fetch_all, window

ACTIVITIES = "/report/activities"
OPLOGS = "/report/operationlogs"
FIXED_NOW = datetime(2026, 3, 4, 15, 30, tzinfo=timezone.utc)


def test_activities_paging_returns_exactly_the_ground_truth_newest_first(sandbox_factory, api):
    sb = sandbox_factory(users=40, days=4, rate_limits=False)
    got = fetch_all(
        api(sb), sb.api_url + ACTIVITIES, {**window(sb, 4), "page_size": 300}, "activity_logs"
    )
    truth = sb.ground_truth("activities")
    assert len(truth) > 300  # several pages
    assert got == truth
    times = [r["time"] for r in got]
    assert times == sorted(times, reverse=True)
    assert set(got[0]) == {"email", "time", "type", "ip_address", "client_type", "version"}
    assert {r["type"] for r in got} == {"Sign in", "Sign out"}
    assert any(":" in r["ip_address"] for r in got)  # some IPv6


def test_window_selects_whole_utc_days_inclusive(sandbox_factory, api):
    sb = sandbox_factory(users=30, days=5, now=FIXED_NOW, live=False)
    day = "2026-03-02"
    body = fetch_all(
        api(sb),
        sb.api_url + ACTIVITIES,
        {"from": day, "to": day, "page_size": 300},
        "activity_logs",
    )
    truth = sb.ground_truth("activities", start="2026-03-02T00:00:00Z", end="2026-03-03T00:00:00Z")
    assert body == truth
    assert body and all(r["time"].startswith(day) for r in body)


def test_same_seed_and_time_give_identical_records(sandbox_factory):
    a = sandbox_factory(users=10, days=2, seed=3, now=FIXED_NOW).ground_truth("activities")
    b = sandbox_factory(users=10, days=2, seed=3, now=FIXED_NOW).ground_truth("activities")
    assert a == b and a


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"from": "2026-01-01", "to": "2026-02-01"}, "one month"),  # 32 days inclusive
        ({"from": "2025-08-01", "to": "2025-08-20"}, "last 6 months"),
        ({"from": "2026-03-04", "to": "2026-03-01"}, "after"),
        ({"from": "03/01/2026", "to": "2026-03-02"}, "yyyy-mm-dd"),
        ({"to": "2026-03-02"}, "required"),
        ({"from": "2026-03-01", "to": "2026-03-02", "page_size": 500}, "page_size"),
    ],
)
def test_bad_report_queries_are_400_code_300_with_a_message(sandbox_factory, api, params, fragment):
    sb = sandbox_factory(users=5, days=1, now=FIXED_NOW)
    r = api(sb).get(sb.api_url + ACTIVITIES, params=params, timeout=10)
    assert r.status_code == 400
    assert r.json()["code"] == 300
    assert fragment in r.json()["message"]


def test_a_31_day_range_is_accepted(sandbox_factory, api):
    sb = sandbox_factory(users=5, days=1, now=FIXED_NOW)
    r = api(sb).get(
        sb.api_url + ACTIVITIES, params={"from": "2026-02-01", "to": "2026-03-03"}, timeout=10
    )
    assert r.status_code == 200


def test_operation_logs_minutes_and_category_filter(sandbox_factory, api):
    sb = sandbox_factory(
        users=30, days=3, now=FIXED_NOW, operation_logs_per_day=60, rate_limits=False
    )
    s = api(sb)
    params = {"from": "2026-03-02 06:00", "to": "2026-03-03 17:59", "page_size": 50}
    got = fetch_all(s, sb.api_url + OPLOGS, params, "operation_logs")
    truth = sb.ground_truth(
        "operation_logs", start="2026-03-02T06:00:00Z", end="2026-03-03T18:00:00Z"
    )
    assert got == truth and len(got) > 50
    assert set(got[0]) == {"time", "operator", "category_type", "action", "operation_detail"}
    users_only = fetch_all(
        s, sb.api_url + OPLOGS, {**params, "category_type": "user"}, "operation_logs"
    )
    assert users_only == [r for r in truth if r["category_type"] == "User"]
    r = s.get(sb.api_url + OPLOGS, params={**params, "category_type": "nope"}, timeout=10)
    assert r.status_code == 400 and r.json()["code"] == 300


def test_page_token_is_bound_to_its_query(sandbox_factory, api):
    sb = sandbox_factory(users=40, days=3)
    s = api(sb)
    params = {**window(sb, 2), "page_size": 10}
    token = s.get(sb.api_url + ACTIVITIES, params=params, timeout=10).json()["next_page_token"]
    assert token
    other = {**window(sb, 1), "page_size": 10, "next_page_token": token}
    r = s.get(sb.api_url + ACTIVITIES, params=other, timeout=10)
    assert r.status_code == 400
    assert r.json()["code"] == 300
    assert "different query" in r.json()["message"]
    r = s.get(sb.api_url + OPLOGS, params={**params, "next_page_token": token}, timeout=10)
    assert r.status_code == 400
    ok = s.get(sb.api_url + ACTIVITIES, params={**params, "next_page_token": token}, timeout=10)
    assert ok.status_code == 200


def test_page_token_expires_after_its_ttl(sandbox_factory, api):
    sb = sandbox_factory(users=40, days=3, page_token_ttl=120)
    s = api(sb)
    params = {**window(sb, 2), "page_size": 10}
    token = s.get(sb.api_url + ACTIVITIES, params=params, timeout=10).json()["next_page_token"]
    sb.advance_clock(121)
    r = s.get(sb.api_url + ACTIVITIES, params={**params, "next_page_token": token}, timeout=10)
    assert r.status_code == 400
    assert r.json() == {"code": 300, "message": "The next page token is invalid or expired."}
    # A fresh listing works and tokens can also be expired on demand.
    token = s.get(sb.api_url + ACTIVITIES, params=params, timeout=10).json()["next_page_token"]
    sb.expire_page_tokens()
    r = s.get(sb.api_url + ACTIVITIES, params={**params, "next_page_token": token}, timeout=10)
    assert r.status_code == 400


def test_free_plan_cannot_read_the_activities_report(sandbox_factory, api):
    sb = sandbox_factory(plan="free", users=5, days=1)
    r = api(sb).get(sb.api_url + ACTIVITIES, params=window(sb, 1), timeout=10)
    assert r.status_code == 400
    assert "Paid account" in r.json()["message"]


def test_days_bound_the_history(sandbox_factory):
    sb = sandbox_factory(users=20, days=2, now=FIXED_NOW)
    oldest = min(r["time"] for r in sb.ground_truth("activities"))
    assert oldest >= (FIXED_NOW.date() - timedelta(days=2)).isoformat()
