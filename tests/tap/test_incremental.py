"""Bookmarks, resume and dedupe across real runs against the sandbox.

Every check compares what the tap emitted (over all runs) with the sandbox's ground truth for the
range the final bookmark covers: nothing missing, nothing emitted twice.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from .helpers import (
    ACTIVITY_FIELDS,
    OPERATION_FIELDS,
    busy_hour,
    run_tap,
    run_tap_watching,
    seen_ids,
    zoom_fields,
)

FIELDS = {"activities": ACTIVITY_FIELDS, "operation_logs": OPERATION_FIELDS}


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _bookmark(state: dict, stream: str) -> datetime | None:
    value = state["bookmarks"].get(stream, {}).get("replication_key_value")
    return _when(value) if value else None


def _assert_union_is_truth(runs, sandbox, stream: str, start: datetime | None, end: datetime):
    records = [r for run in runs for r in run.records(stream)]
    ids = [r["event_id"] for r in records]
    assert len(ids) == len(set(ids)), f"{stream}: an event was emitted twice"
    got = Counter(zoom_fields(r, FIELDS[stream]) for r in records)
    want = Counter(zoom_fields(r, FIELDS[stream]) for r in sandbox.ground_truth(stream, start, end))
    assert got == want, f"{stream}: missing {want - got}, unexpected {got - want}"


def test_quota_stop_saves_state_and_the_next_run_resumes(tmp_path, sandbox_factory):
    sb = sandbox_factory(users=5, days=4)
    settings = {"window_days": 1, "lookback_days": 5, "page_size": 20, "rate_limit_share": 1}
    run1 = run_tap(tmp_path, sb.tap_config(daily_request_budget=6, **settings))

    assert run1.returncode == 75, run1.stderr[-3000:]
    assert not run1.error_lines() and "Traceback" not in run1.stderr
    [line] = [ln for ln in run1.stderr.splitlines() if "| WARNING" in ln and "resets at" in ln]
    assert "daily_request_budget" in line and "run again" in line
    assert len(run1.records("users")) == 5  # Medium calls are not part of the Heavy budget
    heavy = [e for e in sb.request_log if e.category == "Heavy"]
    assert len(heavy) == 6

    # The saved bookmark never covers data that was not emitted.
    b1 = _bookmark(run1.state, "activities")
    assert b1 is not None
    emitted = {zoom_fields(r, ACTIVITY_FIELDS) for r in run1.records("activities")}
    before_b1 = sb.ground_truth("activities", end=b1)
    assert before_b1 and all(zoom_fields(r, ACTIVITY_FIELDS) in emitted for r in before_b1)
    assert len(run1.records("activities")) < len(sb.ground_truth("activities"))

    run2 = run_tap(tmp_path, sb.tap_config(daily_request_budget=1000, **settings), state=run1.state)
    assert run2.returncode == 0, run2.stderr[-3000:]
    start = _bookmark(run2.state, "activities") - timedelta(days=5)
    for stream in FIELDS:
        end = _bookmark(run2.state, stream)
        _assert_union_is_truth([run1, run2], sb, stream, start - timedelta(days=1), end)


def test_error_mid_window_resumes_without_duplicates(tmp_path, sandbox_factory):
    sb = sandbox_factory(users=5, days=3)
    # Day windows, 10 records per page: each window takes several requests. Zoom breaks once the
    # first window is complete and 3 records of the second one are out. One request at a time,
    # so the fault meets requests still to come (tests/concurrency covers concurrent fetching).
    settings = {
        "window_days": 1,
        "lookback_days": 4,
        "page_size": 10,
        "rate_limit_share": 1,
        "max_workers": 1,
    }
    progress = {"window_done": False, "after": 0}

    def saboteur(message: dict) -> None:
        if message["type"] == "STATE":
            activities = message["value"].get("bookmarks", {}).get("activities", {})
            progress["window_done"] |= bool(activities.get("replication_key_value"))
        elif message["type"] == "RECORD" and progress["window_done"]:
            progress["after"] += 1
            if progress["after"] == 3:
                sb.set_faults("/report/activities", error_rate=1.0, error_statuses=(400,))

    run1 = run_tap_watching(tmp_path, sb.tap_config(**settings), saboteur)
    assert run1.returncode == 76, run1.stderr[-3000:]
    assert len(run1.error_lines()) == 1 and "HTTP 400" in run1.error_lines()[0]
    partial = run1.records("activities")
    assert 0 < len(partial) < len(sb.ground_truth("activities"))
    # Records of the unfinished window are remembered, so the re-run skips them.
    state = run1.state["bookmarks"]["activities"]
    b1 = _bookmark(run1.state, "activities")
    beyond = [r for r in partial if _when(r["time"]) >= b1]
    assert len(beyond) >= 3 and all(r["event_id"][:16] in seen_ids(state) for r in beyond)

    sb.clear_faults()
    run2 = run_tap(tmp_path, sb.tap_config(**settings), state=run1.state)
    assert run2.returncode == 0, run2.stderr[-3000:]
    end = _bookmark(run2.state, "activities")
    _assert_union_is_truth([run1, run2], sb, "activities", None, end)  # lookback covers all


def test_incremental_runs_pick_up_late_arrivals_without_duplicates(tmp_path, sandbox_factory):
    # Live account, ~80 sign-ins/hour; half of all events show up 1-30 minutes late, so about
    # ten are still hidden when the first run ends.
    sb = sandbox_factory(
        users=20,
        days=2,
        live=True,
        now=busy_hour(),
        events_per_user_day=96,
        operation_logs_per_day=400,
        late_fraction=0.5,
        late_min_seconds=60,
        late_max_seconds=1800,
    )
    settings = {
        "window_days": 1,
        "lookback_days": 3,
        "late_arrival_hours": 1,
        "rate_limit_share": 1,
    }
    run1 = run_tap(tmp_path, sb.tap_config(**settings))
    assert run1.returncode == 0, run1.stderr[-3000:]
    b1 = _bookmark(run1.state, "activities")

    sb.advance_clock(3600)  # an hour later: every late event up to b1 is visible now
    run2 = run_tap(tmp_path, sb.tap_config(**settings), state=run1.state)
    assert run2.returncode == 0, run2.stderr[-3000:]
    late = [r for r in run2.records("activities") if _when(r["time"]) < b1]
    assert late, "events that arrived late must be picked up by the next run"

    run3 = run_tap(tmp_path, sb.tap_config(**settings), state=run2.state)
    assert run3.returncode == 0, run3.stderr[-3000:]
    assert not [r for r in run3.records("activities") if _when(r["time"]) < b1]

    for stream in FIELDS:
        end = _bookmark(run3.state, stream)
        _assert_union_is_truth([run1, run2, run3], sb, stream, b1 - timedelta(days=4), end)
        seen = seen_ids(run3.state["bookmarks"][stream])
        cutoff = end - timedelta(hours=1)
        assert all(_when(t) >= cutoff for t in seen.values()), "dedupe state must stay bounded"
