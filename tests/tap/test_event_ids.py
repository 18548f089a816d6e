"""event_id: stable across runs, and two truly identical events stay two records."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from .helpers import StubZoom, run_tap

SIGN_IN = {
    "email": "ana@example.com",
    "time": (datetime.now(timezone.utc) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "type": "Sign in",
    "ip_address": "10.1.2.3",
    "client_type": "Windows",
    "version": "6.2.5",
}
SIGN_OUT = {**SIGN_IN, "type": "Sign out"}


def test_identical_events_are_kept_and_ids_are_stable(tmp_path):
    served = [dict(SIGN_IN), dict(SIGN_IN), dict(SIGN_OUT)]  # a true duplicate sign-in

    def activities(query):
        return 200, {"next_page_token": "", "activity_logs": [dict(r) for r in served]}, []

    with StubZoom({"/v2/report/activities": activities}, "tok-event-ids-1") as zoom:
        config = zoom.tap_config(window_days=28, late_arrival_hours=6)
        first = run_tap(tmp_path, config)
        again = run_tap(tmp_path, config)  # no state: a fresh full sync
        incremental = run_tap(tmp_path, config, state=first.state)
        served.append(dict(SIGN_IN))  # Zoom now shows a third identical sign-in (late)
        late = run_tap(tmp_path, config, state=incremental.state)

    for run in (first, again, incremental, late):
        assert run.returncode == 0, run.stderr[-3000:]
    ids = [r["event_id"] for r in first.records("activities")]
    assert len(ids) == 3 and len(set(ids)) == 3
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert sorted(ids) == sorted(r["event_id"] for r in again.records("activities"))
    assert incremental.records("activities") == []  # already emitted: nothing twice
    [third] = late.records("activities")
    assert third["event_id"] not in ids and third["type"] == "Sign in"


def test_a_field_zoom_adds_is_reported_once_and_keeps_ids_stable(tmp_path):
    plain = [dict(SIGN_IN), dict(SIGN_OUT)]
    extended = [{**r, "device_id": "dev-1", "location": "Oslo"} for r in plain]

    def serve(records):
        def activities(query):
            return 200, {"next_page_token": "", "activity_logs": [dict(r) for r in records]}, []

        return activities

    with StubZoom({"/v2/report/activities": serve(plain)}, "tok-fields-1") as zoom:
        before = run_tap(tmp_path, zoom.tap_config(window_days=28))
    with StubZoom({"/v2/report/activities": serve(extended)}, "tok-fields-2") as zoom:
        after = run_tap(tmp_path, zoom.tap_config(window_days=28))

    assert before.returncode == 0 and after.returncode == 0, after.stderr[-3000:]
    warnings = [
        line for line in after.stderr.splitlines() if "the tap's schema does not know" in line
    ]
    assert len(warnings) == 1, warnings
    assert "device_id, location" in warnings[0] and "activities" in warnings[0]
    assert not [line for line in before.stderr.splitlines() if "does not know" in line]
    ids = sorted(r["event_id"] for r in before.records("activities"))
    assert ids == sorted(r["event_id"] for r in after.records("activities"))
