"""429s (Retry-After, Zoom's daily limit) and expired page tokens, over real HTTP."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

from .helpers import ACTIVITY_FIELDS, StubZoom, busy_hour, run_tap, zoom_fields


def _activity(hours_ago: float, **fields) -> dict:
    moment = datetime.now(timezone.utc) - timedelta(hours=hours_ago)
    record = {
        "email": "a@example.com",
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "type": "Sign in",
        "ip_address": "10.0.0.1",
        "client_type": "Mac",
        "version": "6.0.0",
    }
    return {**record, **fields}


def test_retry_after_is_honoured(tmp_path):
    answers = iter(
        [
            (
                429,
                {"code": 429, "message": "You have reached the maximum per-second rate limit"},
                [("Retry-After", "2"), ("X-RateLimit-Type", "QPS")],
            ),
            (200, {"next_page_token": "", "activity_logs": [_activity(1)]}, []),
        ]
    )
    with StubZoom({"/v2/report/activities": lambda query: next(answers)}, "tok-retry-1") as zoom:
        run = run_tap(tmp_path, zoom.tap_config(window_days=28))  # one window: one request
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(run.records("activities")) == 1
    calls = [t for path, t in zoom.arrivals if path == "/v2/report/activities"]
    assert len(calls) == 2  # one 429, one retry: no hammering
    assert calls[1] - calls[0] >= 2.0  # waited as long as Zoom asked


def test_zoom_daily_limit_stops_cleanly_with_reset_time(tmp_path, sandbox_factory):
    # A weekday afternoon: the first windows hold sign-ins whenever the suite runs (on a Sunday
    # night today's window can be empty, and then no stream completes one with a bookmark).
    sb = sandbox_factory(users=5, days=3, daily_quota=3, now=busy_hour())
    run = run_tap(tmp_path, sb.tap_config(window_days=1, lookback_days=3, page_size=300))

    assert run.returncode == 75, run.stderr[-3000:]
    assert not run.error_lines() and "Traceback" not in run.stderr
    # Zoom's daily limit resets at Zoom's midnight (UTC): the tap follows Zoom's clock (Date).
    midnight = (sb.now() + timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z")
    [line] = [ln for ln in run.stderr.splitlines() if "| WARNING" in ln and "resets at" in ln]
    assert midnight in line and "daily" in line
    # The governor stops at "X-RateLimit-Remaining: 0" or at the first Daily-limit 429; the two
    # report streams fetch at once, so each may have one request in flight when it runs out.
    heavy = [e.status for e in sb.request_log if e.category == "Heavy"]
    assert heavy.count(200) == 3 and heavy.count(429) <= 2 and len(heavy) <= 5
    assert len(run.records("users")) == 5
    # Both report streams fetch from the start and share the 3 Heavy requests: whichever got two
    # completed its first window and saved its bookmark.
    bookmarks = run.state["bookmarks"]
    assert any(bookmarks[s].get("replication_key_value") for s in ("activities", "operation_logs"))


def test_expired_page_token_restarts_the_listing(tmp_path, sandbox_factory):
    sb = sandbox_factory(users=5, days=3)
    sb.set_faults("/report/activities", page_token_expiry_rate=1.0, max_faults=2)
    run = run_tap(tmp_path, sb.tap_config(window_days=7, lookback_days=4, page_size=10))

    assert run.returncode == 0, run.stderr[-3000:]
    expired = [e for e in sb.request_log if e.fault == "page_token_expiry"]
    assert len(expired) == 2
    records = run.records("activities")
    assert len({r["event_id"] for r in records}) == len(records)
    got = Counter(zoom_fields(r, ACTIVITY_FIELDS) for r in records)
    want = Counter(zoom_fields(r, ACTIVITY_FIELDS) for r in sb.ground_truth("activities"))
    assert got == want
