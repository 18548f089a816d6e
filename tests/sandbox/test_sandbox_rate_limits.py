"""Per-second limits, success headers and the shared daily quota with its Retry-After."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from tests.rate_windows import max_in_any_window

from .helpers import window

ACTIVITIES = "/report/activities"


def test_over_the_per_second_limit_gives_zoom_429s_and_never_admits_more(sandbox_factory, api):
    sb = sandbox_factory(users=10, days=1, rate_limits_per_second={"Heavy": 5})
    params = {**window(sb, 1), "page_size": 5}
    sessions = [api(sb) for _ in range(3)]
    statuses: list[int] = []
    rejected = []

    def hammer(s):
        for _ in range(12):
            r = s.get(sb.api_url + ACTIVITIES, params=params, timeout=10)
            statuses.append(r.status_code)
            if r.status_code == 429:
                rejected.append(r)

    threads = [threading.Thread(target=hammer, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert rejected, "36 back-to-back requests at a 5/s limit must hit 429"
    r = rejected[0]
    assert r.json() == {
        "code": 429,
        "message": "You have reached the maximum per-second rate limit for this API. "
        "Try again later.",
    }
    assert r.headers["X-RateLimit-Category"] == "Heavy"
    assert r.headers["X-RateLimit-Type"] == "QPS"
    assert r.headers["X-RateLimit-Limit"] == "5"
    assert r.headers["X-RateLimit-Remaining"] == "0"
    heavy = [e for e in sb.request_log if e.category == "Heavy"]
    assert sorted(e.status for e in heavy) == sorted(statuses)
    admitted = [e.t for e in heavy if e.status != 429]
    assert max_in_any_window(admitted, 1.0) <= 5
    assert all(e.rate_type == "QPS" for e in heavy if e.status == 429)


def test_categories_have_separate_windows_and_success_headers(sandbox_factory, api):
    # One Heavy request per minute: the second one is refused however slow this machine is.
    sb = sandbox_factory(users=10, days=1, rate_limits_per_second={"Heavy": 1 / 60})
    s = api(sb)
    assert s.get(sb.api_url + ACTIVITIES, params=window(sb, 1), timeout=10).status_code == 200
    refused = s.get(sb.api_url + ACTIVITIES, params=window(sb, 1), timeout=10)
    assert refused.status_code == 429
    assert refused.headers["X-RateLimit-Limit"] == "1"
    users = s.get(sb.api_url + "/users", timeout=10)  # Medium: its own window
    assert users.status_code == 200
    assert users.headers["X-RateLimit-Category"] == "Medium"
    assert users.headers["X-RateLimit-Type"] == "QPS"
    assert users.headers["X-RateLimit-Limit"] == "20"
    assert users.headers["X-RateLimit-Remaining"] == "19"


def test_daily_quota_is_shared_by_heavy_endpoints_and_resets_at_midnight(sandbox_factory, api):
    now = datetime(2026, 3, 4, 23, 0, tzinfo=timezone.utc)
    sb = sandbox_factory(users=10, days=1, now=now, daily_quota=3)
    s = api(sb)
    params = {"from": "2026-03-04", "to": "2026-03-04", "page_size": 5}
    ok1 = s.get(sb.api_url + ACTIVITIES, params=params, timeout=10)
    assert ok1.headers["X-RateLimit-Type"] == "Daily-limit"
    assert ok1.headers["X-RateLimit-Limit"] == "3"
    assert ok1.headers["X-RateLimit-Remaining"] == "2"
    assert s.get(sb.api_url + "/report/operationlogs", params=params, timeout=10).ok
    assert s.get(sb.api_url + ACTIVITIES, params=params, timeout=10).ok
    r = s.get(sb.api_url + "/report/operationlogs", params=params, timeout=10)
    assert r.status_code == 429
    assert r.headers["X-RateLimit-Type"] == "Daily-limit"
    assert r.headers["X-RateLimit-Remaining"] == "0"
    assert r.headers["Retry-After"] == "2026-03-05T00:00:00Z"
    assert "daily rate limit" in r.json()["message"]
    assert s.get(sb.api_url + "/users", timeout=10).ok  # Medium is not in the daily pool
    sb.advance_clock(timedelta(hours=1, seconds=1).total_seconds())
    s2 = api(sb)  # the old token is still valid; a new one is fine too
    assert s2.get(sb.api_url + ACTIVITIES, params=params, timeout=10).status_code == 200


def test_rate_limits_off_admits_everything(sandbox_factory, api):
    sb = sandbox_factory(users=10, days=1, rate_limits=False)
    s = api(sb)
    codes = {
        s.get(sb.api_url + ACTIVITIES, params=window(sb, 1), timeout=10).status_code
        for _ in range(25)
    }
    assert codes == {200}


def test_free_plan_has_a_daily_pool_per_category(sandbox_factory, api):
    sb = sandbox_factory(plan="free", users=5, days=1, daily_quota=1)
    s = api(sb)
    logs = sb.api_url + "/report/operationlogs"
    assert s.get(logs, params=window(sb, 1), timeout=10).status_code == 200
    heavy = s.get(logs, params=window(sb, 1), timeout=10)
    assert (heavy.status_code, heavy.headers["X-RateLimit-Type"]) == (429, "Daily-limit")
    assert s.get(sb.api_url + "/users", timeout=10).status_code == 200  # Medium: its own pool
    medium = s.get(sb.api_url + "/users", timeout=10)
    assert medium.status_code == 429
    assert medium.headers["X-RateLimit-Category"] == "Medium"
