"""Interrupting a concurrent backfill (daily quota, a Zoom error, revoked token) and resuming.

After any interruption the union of all runs must be the account's data exactly once, and no
STATE message may ever have pointed past a record that was not yet emitted.
"""

from __future__ import annotations

import signal
from collections import Counter
from datetime import timedelta

import pytest

from .helpers import as_counter, fields, run_tap, when

# Six days of data, a seven-day first sync: the first window starts before the first event, so
# the account's whole ground truth is what the runs together must emit.
ACCOUNT = {"users": 30, "days": 6, "late_fraction": 0.0}
SETTINGS = {
    "window_days": 1,
    "lookback_days": 7,
    "page_size": 30,
    "rate_limit_share": 1.0,
    "max_workers": 4,
}


def _assert_state_never_ahead(runs, truth: list[dict]) -> None:
    """At every STATE, every event before its bookmark had already been emitted (any run)."""
    emitted: set[tuple] = set()
    checked = 0
    for run in runs:
        for message in run.messages:
            if message["type"] == "RECORD" and message["stream"] == "activities":
                emitted.add(fields(message["record"]))
            elif message["type"] == "STATE":
                value = message["value"]["bookmarks"].get("activities", {})
                bookmark = value.get("replication_key_value")
                if not bookmark:
                    continue
                before = [r for r in truth if when(r["time"]) < when(bookmark)]
                missing = [r for r in before if fields(r) not in emitted]
                assert not missing, f"STATE {bookmark} covers {len(missing)} unsent events"
                checked += 1
    assert checked


def _assert_union_exact(runs, truth: list[dict]) -> None:
    records = [r for run in runs for r in run.records("activities")]
    ids = Counter(r["event_id"] for r in records)
    assert [i for i, n in ids.items() if n > 1] == [], "an event was emitted twice"
    assert as_counter(records) == as_counter(truth)


def test_quota_stop_mid_backfill_then_resume(tmp_path, sandbox_factory):
    sb = sandbox_factory(**ACCOUNT)
    run1 = run_tap(tmp_path, sb.tap_config(daily_request_budget=12, **SETTINGS), name="run1")
    assert run1.returncode == 75, run1.stderr[-3000:]
    assert not run1.error_lines() and "Traceback" not in run1.stderr
    assert [ln for ln in run1.stderr.splitlines() if "resets at" in ln]
    truth = sb.ground_truth("activities")
    assert 0 < len(run1.records("activities")) < len(truth)
    assert len([e for e in sb.request_log if e.category == "Heavy"]) == 12

    run2 = run_tap(
        tmp_path,
        sb.tap_config(daily_request_budget=1000, **SETTINGS),
        state=run1.state,
        name="run2",
    )
    assert run2.returncode == 0, run2.stderr[-3000:]
    _assert_union_exact([run1, run2], truth)
    _assert_state_never_ahead([run1, run2], truth)


def test_zoom_error_in_a_worker_stops_cleanly_then_resume(tmp_path, sandbox_factory):
    sb = sandbox_factory(**ACCOUNT)
    broken = {"done": False}

    def saboteur(message: dict) -> None:
        # Once the first window is complete, Zoom starts refusing report requests: the
        # listings still in flight on the workers fail.
        if message["type"] == "STATE" and not broken["done"]:
            value = message["value"].get("bookmarks", {}).get("activities", {})
            if value.get("replication_key_value"):
                sb.set_faults("/report/activities", error_rate=1.0, error_statuses=(400,))
                broken["done"] = True

    run1 = run_tap(tmp_path, sb.tap_config(**SETTINGS), on_message=saboteur, name="run1")
    assert run1.returncode == 76, run1.stderr[-3000:]
    [line] = run1.error_lines()
    assert "HTTP 400" in line and "/report/activities" in line
    assert "Traceback" not in run1.stderr
    truth = sb.ground_truth("activities")
    assert 0 < len(run1.records("activities")) < len(truth)

    sb.clear_faults()
    run2 = run_tap(tmp_path, sb.tap_config(**SETTINGS), state=run1.state, name="run2")
    assert run2.returncode == 0, run2.stderr[-3000:]
    _assert_union_exact([run1, run2], truth)
    _assert_state_never_ahead([run1, run2], truth)


def test_token_revoked_while_listings_are_in_flight(tmp_path, sandbox_factory):
    sb = sandbox_factory(**ACCOUNT)
    sb.set_faults("/report/activities", latency=0.03, revoke_after=6)
    run = run_tap(tmp_path, sb.tap_config(**SETTINGS))
    assert run.returncode == 0, run.stderr[-3000:]
    _assert_union_exact([run], sb.ground_truth("activities"))

    log = sb.request_log
    rejected = [i for i, e in enumerate(log) if e.status == 401]
    # Each listing in flight meets the revoked token at most once; they share ONE new token.
    assert 1 <= len(rejected) <= SETTINGS["max_workers"]
    token_posts = [e for e in log[rejected[0] :] if e.path.startswith("/oauth/token")]
    assert len(token_posts) == 1


def test_sigterm_mid_window_then_resume_emits_nothing_twice(tmp_path, sandbox_factory):
    # The tap stops between two records: its final STATE counts exactly the records it wrote
    # (the ids already emitted from the window in progress too), so the next run skips exactly
    # those, and the exit code tells the scheduler the run was cut.
    sb = sandbox_factory(**ACCOUNT)
    sb.set_faults("/report/activities", latency=0.05)
    progress = {"bookmarked": False, "after": 0, "process": None}

    def terminator(message: dict) -> None:
        if message["type"] == "STATE":
            value = message["value"].get("bookmarks", {}).get("activities", {})
            progress["bookmarked"] |= bool(value.get("replication_key_value"))
        elif message["type"] == "RECORD" and message["stream"] == "activities":
            progress["after"] += progress["bookmarked"]
            if progress["after"] == 60:
                progress["process"].send_signal(signal.SIGTERM)

    run1 = run_tap(
        tmp_path,
        sb.tap_config(**SETTINGS),
        on_message=terminator,
        on_start=lambda proc: progress.update(process=proc),
        name="run1",
    )
    truth = sb.ground_truth("activities")
    assert run1.returncode == 143, run1.stderr[-3000:]
    assert progress["after"] >= 60
    assert 0 < len(run1.records("activities")) < len(truth)
    assert run1.state["bookmarks"]["activities"]["seen"], "in-window ids must be saved"

    run2 = run_tap(tmp_path, sb.tap_config(**SETTINGS), state=run1.state, name="run2")
    assert run2.returncode == 0, run2.stderr[-3000:]
    _assert_union_exact([run1, run2], truth)
    _assert_state_never_ahead([run1, run2], truth)


def test_expired_page_tokens_in_concurrent_listings_lose_and_repeat_nothing(
    tmp_path, sandbox_factory
):
    sb = sandbox_factory(**ACCOUNT)
    sb.set_faults("/report/activities", page_token_expiry_rate=0.2, max_faults=4)
    run = run_tap(tmp_path, sb.tap_config(**SETTINGS))
    assert run.returncode == 0, run.stderr[-3000:]
    assert len([e for e in sb.request_log if e.fault == "page_token_expiry"]) == 4
    _assert_union_exact([run], sb.ground_truth("activities"))


@pytest.mark.parametrize("layout", ["dict", "lines"])
def test_state_with_an_earlier_seen_layout_still_dedupes(tmp_path, sandbox_factory, layout):
    # Earlier versions kept ``seen`` as {event_id: time}, then as "<event_id> <time>" lines.
    sb = sandbox_factory(users=10, days=2, late_fraction=0.0)
    settings = {"lookback_days": 3, "late_arrival_hours": 12, "max_workers": 4}
    run1 = run_tap(tmp_path, sb.tap_config(**settings), name="run1")
    assert run1.returncode == 0, run1.stderr[-3000:]
    state = run1.state
    activities = state["bookmarks"]["activities"]
    cutoff = when(activities["replication_key_value"]) - timedelta(hours=12)
    late = {
        r["event_id"]: r["time"] for r in run1.records("activities") if when(r["time"]) >= cutoff
    }
    assert late, "the late-arrival window holds emitted events"
    if layout == "dict":
        activities["seen"] = late
    else:
        activities["seen"] = ["".join(f"{i} {t}\n" for i, t in late.items())]
    activities["emitting"] = []

    run2 = run_tap(tmp_path, sb.tap_config(**settings), state=state, name="run2")
    assert run2.returncode == 0, run2.stderr[-3000:]
    assert run2.records("activities") == []  # re-read the last 12 hours, emitted nothing twice
