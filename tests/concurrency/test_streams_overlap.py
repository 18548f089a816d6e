"""Every stream's listings are fetched from the start of the sync, not stream after stream.

The tap emits users, then activities, then operation_logs. It starts all three streams'
prefetchers when the sync starts, so the reports are requested while users are emitted, and
operation logs while activities are still being fetched and emitted; what leaves the tap
(records, their order, the state) must be exactly what one request at a time produces, also
when the daily quota stops the sync.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from datetime import datetime, timedelta

from tests.tap.helpers import busy_hour

from .helpers import TAP, TapRun, run_tap, when

REPORTS = {"activities": "/report/activities", "operation_logs": "/report/operationlogs"}
OP_FIELDS = ("time", "operator", "category_type", "action", "operation_detail")
ACT_FIELDS = ("email", "time", "type", "ip_address", "client_type", "version")
FIELDS = {"activities": ACT_FIELDS, "operation_logs": OP_FIELDS}


def _quiet_late_arrival_hours(records: list[dict], now: datetime) -> float:
    """A ``late_arrival_hours`` whose cutoff (bookmark - allowance) lies in a gap of the data.

    The bookmark is the run's own "now", so two runs a few seconds apart cut their late-arrival
    dedupe lists at slightly different times; with no record near either cutoff both lists hold
    the same ids and the two states can be compared whole.
    """
    times = sorted(when(r["time"]) for r in records)
    for minutes in range(4 * 60, 20 * 60, 5):
        cutoff = now - timedelta(minutes=minutes)
        low, high = cutoff - timedelta(minutes=2), cutoff + timedelta(minutes=5)
        if not any(low <= moment <= high for moment in times):
            return minutes / 60
    raise AssertionError("no gap of 7 minutes in the account's data")


def _without_bookmark_times(state: dict) -> dict:
    """The state minus each stream's bookmark time (the run's own "now", seconds apart)."""
    return {
        stream: {k: v for k, v in value.items() if k != "replication_key_value"}
        for stream, value in state["bookmarks"].items()
    }


def _record_streams(run: TapRun) -> list[str]:
    """The stream of each RECORD, runs of the same stream collapsed: the emission order."""
    order: list[str] = []
    for message in run.messages:
        if message["type"] == "RECORD" and (not order or order[-1] != message["stream"]):
            order.append(message["stream"])
    return order


def test_all_streams_fetch_from_the_start_and_emit_what_one_at_a_time_emits(
    tmp_path, sandbox_factory
):
    # Five days of both reports, 10 records per page: activities page through ~25 requests over
    # 6 windows, operation logs ~12 requests; 20 ms per request keeps listings in flight.
    # A weekday afternoon: the late-arrival window holds operation logs whenever the suite runs.
    sb = sandbox_factory(
        users=10, days=5, late_fraction=0.0, operation_logs_per_day=30, now=busy_hour()
    )
    sb.set_faults(latency=0.02)
    now = sb.now()
    start = now - timedelta(days=4, hours=6)
    truth = {stream: sb.ground_truth(stream, start) for stream in REPORTS}
    settings = {
        "start_date": start.isoformat(),  # both runs plan the same range
        "late_arrival_hours": _quiet_late_arrival_hours(
            truth["activities"] + truth["operation_logs"], now
        ),
        "window_days": 1,
        "page_size": 10,
        "rate_limit_share": 1.0,
    }

    concurrent = run_tap(tmp_path, sb.tap_config(max_workers=4, **settings), name="concurrent")
    assert concurrent.returncode == 0, concurrent.stderr[-3000:]
    log = sb.request_log
    sb.clear_request_log()
    sequential = run_tap(tmp_path, sb.tap_config(max_workers=1, **settings), name="sequential")
    assert sequential.returncode == 0, sequential.stderr[-3000:]
    sequential_log = sb.request_log

    def admitted(entries: list, path: str) -> list[float]:
        return sorted(e.t for e in entries if e.endpoint == path and e.status == 200)

    # Several windows of data in both reports...
    activities = admitted(log, REPORTS["activities"])
    operation_logs = admitted(log, REPORTS["operation_logs"])
    assert len({when(r["time"]).date() for r in truth["operation_logs"]}) >= 4
    assert len(activities) >= 15 and len(operation_logs) >= 8
    # ...and operation logs and users were requested while activities were still being fetched;
    # one request at a time, they come only after the last activities request.
    assert operation_logs[0] < activities[-1]
    assert max(admitted(log, "/users")) < activities[-1]  # all of them (another rate budget)
    assert admitted(sequential_log, REPORTS["operation_logs"])[0] > max(
        admitted(sequential_log, REPORTS["activities"])
    )

    # The same output: each stream's records (the account's data, once each) in the same order,
    # streams emitted one after another in the tap's order, and the same state.
    for stream, records in truth.items():
        emitted = concurrent.records(stream)
        assert Counter(tuple(r.get(f) for f in FIELDS[stream]) for r in emitted) == Counter(
            tuple(r.get(f) for f in FIELDS[stream]) for r in records
        )
        assert len({r["event_id"] for r in emitted}) == len(emitted)
    for stream in ("activities", "operation_logs", "users"):
        assert concurrent.records(stream) == sequential.records(stream), stream
    assert _record_streams(concurrent) == ["users", "activities", "operation_logs"]
    assert _record_streams(sequential) == _record_streams(concurrent)
    assert _without_bookmark_times(concurrent.state) == _without_bookmark_times(sequential.state)
    assert concurrent.state["bookmarks"]["operation_logs"]["seen"], "the comparison has ids"


def test_quota_stop_while_both_reports_are_fetched_loses_and_repeats_nothing(
    tmp_path, sandbox_factory
):
    # The daily budget runs out while activities and operation logs are both being fetched:
    # each stream emits what it completely has, its state says exactly that, and the next run
    # (after the reset) emits the rest of both, nothing twice.
    sb = sandbox_factory(users=10, days=5, late_fraction=0.0, operation_logs_per_day=30)
    sb.set_faults(latency=0.02)
    settings = {
        "lookback_days": 6,  # the whole account: the runs together must emit the ground truth
        "window_days": 1,
        "page_size": 10,
        "rate_limit_share": 1.0,
        "max_workers": 4,
    }
    run1 = run_tap(tmp_path, sb.tap_config(daily_request_budget=14, **settings), name="run1")
    assert run1.returncode == 75, run1.stderr[-3000:]
    assert not run1.error_lines() and "Traceback" not in run1.stderr
    heavy = [e for e in sb.request_log if e.category == "Heavy"]
    assert len(heavy) == 14
    assert {e.endpoint for e in heavy} == set(REPORTS.values()), "both were being fetched"

    run2 = run_tap(
        tmp_path,
        sb.tap_config(daily_request_budget=1000, **settings),
        state=run1.state,
        name="run2",
    )
    assert run2.returncode == 0, run2.stderr[-3000:]
    for stream, names in FIELDS.items():
        records = run1.records(stream) + run2.records(stream)
        ids = Counter(r["event_id"] for r in records)
        assert [i for i, n in ids.items() if n > 1] == [], f"{stream}: an event came twice"
        got = Counter(tuple(r.get(f) for f in names) for r in records)
        want = Counter(tuple(r.get(f) for f in names) for r in sb.ground_truth(stream))
        assert got == want, stream
    assert len(run1.records("activities")) < len(sb.ground_truth("activities"))


def test_a_deselected_stream_is_not_fetched(tmp_path, sandbox_factory):
    sb = sandbox_factory(users=10, days=3, late_fraction=0.0)
    config = sb.tap_config(lookback_days=2, window_days=1, max_workers=4)
    config_path = tmp_path / "discover-config.json"
    config_path.write_text(json.dumps(config))
    discovered = subprocess.run(
        [TAP, "--config", str(config_path), "--discover"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    catalog = json.loads(discovered.stdout)
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if not item["breadcrumb"]:
                item["metadata"]["selected"] = entry["tap_stream_id"] != "operation_logs"
    sb.clear_request_log()

    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.records("activities") and run.records("users")
    assert run.records("operation_logs") == []
    assert [e for e in sb.request_log if e.endpoint == REPORTS["operation_logs"]] == []
