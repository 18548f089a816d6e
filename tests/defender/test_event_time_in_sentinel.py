"""Every Zoom event at its real time in Sentinel: what Azure stores, read through our parsers.

tap | target-defender | Azure Monitor emulator, deployed from the ARM template ``azure_setup
template`` generates (tables, DCR, the shipped parser functions). The emulator replaces a
TimeGenerated older than two days with the receipt time, as Azure does, and evaluates the shipped
KQL (and Sentinel's built-in unifying parsers, which pick up the custom ones). Three ways events
arrive more than two days late, each checked against the Zoom sandbox's ground truth:

- a 7-day first sync;
- a late arrival three days old (Zoom shows the event three days after it happened);
- a backlog after an outage (the pipeline stopped four days; the first catch-up run then hits an
  Azure outage and sends nothing).

Each ends with: stored rows whose TimeGenerated Azure replaced (so the case really happened),
and every event exactly once in ``_Im_Authentication`` / ``_Im_AuditEvent`` (and the
parameter-less ``_ASim_*``) at its real time; ``starttime``/``endtime`` select by event time.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import pytest

from tap_zoom_defender.azure_monitor_sandbox import AzureMonitorSandbox, SandboxConfig
from tap_zoom_defender.azure_monitor_sandbox.setup_output import generated_template
from tests.tap.helpers import busy_hour

from .test_end_to_end import pipe_run

STREAMS = {
    "activities": ("ZoomAuthentication_CL", "_Im_Authentication", "_ASim_Authentication"),
    "operation_logs": ("ZoomAuditEvent_CL", "_Im_AuditEvent", "_ASim_AuditEvent"),
}
DAY = 86400


@pytest.fixture
def azure(tmp_path):
    """The emulator, deployed from the project's ARM template (asim profile)."""
    config = SandboxConfig(templates=[generated_template("asim")], ca_dir=tmp_path / "ca")
    with AzureMonitorSandbox(config) as emulator:
        yield emulator


def _iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _kql_time(when: dt.datetime) -> str:
    return f"datetime({when.strftime('%Y-%m-%dT%H:%M:%SZ')})"


def _content(record: dict) -> str:
    """A Zoom record's identity: its content (the sandbox never repeats one), sans event_id."""
    return json.dumps({k: v for k, v in record.items() if k != "event_id"}, sort_keys=True)


def _zoom_record(row: dict) -> str:
    """The Zoom record a row (stored or parsed) came from, kept in AdditionalFields."""
    return _content(row["AdditionalFields"]["ZoomRecord"])


def _truth(sb, stream: str) -> dict[str, dt.datetime]:
    """Zoom record -> its event time, for every event Zoom shows now."""
    return {_content(r): _iso(r["time"]) for r in sb.ground_truth(stream)}


def _everything(sb) -> dict[str, set[str]]:
    """Every event Zoom shows now (each test's sync range covers the whole account)."""
    return {stream: set(_truth(sb, stream)) for stream in STREAMS}


def _target(az, **extra) -> dict:
    return {"destination": "azure_monitor", **az.target_settings(), **extra}


def _assert_every_event_once_at_its_time(az, sb, expected: dict[str, set[str]]) -> None:
    """Each expected event once in the unifying views, TimeGenerated = the time Zoom gave."""
    for stream, (table, filtering, plain) in STREAMS.items():
        truth = _truth(sb, stream)
        stored = az.rows(table)
        replaced = [r for r in stored if r["TimeGenerated"] != r["EventStartTime"]]
        assert replaced, f"{table}: no TimeGenerated was replaced; the case was not exercised"
        assert az.query(f"{table} | where TimeGenerated != EventStartTime | project EventCount")
        for view in (filtering, plain):
            rows = az.query(f"{view} | where EventVendor == 'Zoom'")
            assert len({r["EventOriginalUid"] for r in rows}) == len(rows), f"{view}: a key twice"
            counts = Counter(_zoom_record(r) for r in rows)
            twice = [k for k, n in counts.items() if n > 1]
            assert not twice, f"{view}: {len(twice)} events counted twice"
            assert set(counts) == expected[stream], (
                f"{view}: {len(expected[stream] - set(counts))} missing, "
                f"{len(set(counts) - expected[stream])} unexpected"
            )
            for row in rows:
                when = truth[_zoom_record(row)]
                assert _iso(row["TimeGenerated"]) == when, row["EventOriginalUid"]
                assert _iso(row["EventStartTime"]) == when
                assert row["EventSchema"] in ("Authentication", "AuditEvent")


def _assert_time_range_selects_by_event_time(az, sb, stream: str, start, end) -> None:
    table, filtering, _ = STREAMS[stream]
    rows = az.query(
        f"{filtering}(starttime={_kql_time(start)}, endtime={_kql_time(end)})"
        " | where EventVendor == 'Zoom'"
    )
    delivered = {_zoom_record(r) for r in az.rows(table)}
    wanted = {k for k, t in _truth(sb, stream).items() if start <= t <= end and k in delivered}
    assert wanted, "no event in the range: the check would prove nothing"
    assert {_zoom_record(r) for r in rows} == wanted


def test_a_seven_day_first_sync_keeps_every_event_time(sandbox_factory, azure, tmp_path):
    sb = sandbox_factory(users=10, days=6, late_fraction=0.0, now=busy_hour())
    pipe_run(sb, tmp_path, "asim", None, target_extra=_target(azure),
             env=azure.env(), tap_extra={"lookback_days": 7})  # fmt: skip

    _assert_every_event_once_at_its_time(azure, sb, _everything(sb))
    # A window four to five days back, by event time: all of those rows arrived "today".
    end = sb.now() - dt.timedelta(days=4)
    _assert_time_range_selects_by_event_time(
        azure, sb, "activities", end - dt.timedelta(days=1), end
    )


def test_a_late_arrival_three_days_old_keeps_its_time(sandbox_factory, azure, tmp_path):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    # 30 users, a third of events late: enough late arrivals even when the window those 12
    # hours reveal falls on a weekend night (the clock must follow this machine's: Azure's rule)
    sb = sandbox_factory(users=30, days=3, late_fraction=0.35, late_min_seconds=3 * DAY,
                         late_max_seconds=3 * DAY, now=now - dt.timedelta(hours=12))  # fmt: skip
    tap = {"lookback_days": 4, "late_arrival_hours": 80}
    state = pipe_run(sb, tmp_path, "asim", None, target_extra=_target(azure),
                     env=azure.env(), tap_extra=tap)  # fmt: skip
    first = {s: {_zoom_record(r) for r in azure.rows(STREAMS[s][0])} for s in STREAMS}
    sb.advance_clock(12 * 3600)  # events from three days ago become visible now
    pipe_run(sb, tmp_path, "asim", state, target_extra=_target(azure),
             env=azure.env(), tap_extra=tap)  # fmt: skip

    late = {s: {_zoom_record(r) for r in azure.rows(STREAMS[s][0])} - first[s] for s in STREAMS}
    truth = _truth(sb, "activities")
    old_late = [k for k in late["activities"] if sb.now() - truth[k] > dt.timedelta(days=2)]
    assert old_late, "no late arrival older than two days was delivered"
    _assert_every_event_once_at_its_time(azure, sb, _everything(sb))


def test_a_backlog_after_an_outage_keeps_every_event_time(sandbox_factory, azure, tmp_path):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    sb = sandbox_factory(users=10, days=1, late_fraction=0.0, now=now - dt.timedelta(days=4))
    tap = {"lookback_days": 2}
    state = pipe_run(sb, tmp_path, "asim", None, target_extra=_target(azure),
                     env=azure.env(), tap_extra=tap)  # fmt: skip
    sb.advance_clock(4 * DAY)  # the pipeline was down four days
    azure.fail_next(503, times=50)  # and Azure is down for the first catch-up run
    outage = _target(azure, azure_max_retries=1, azure_retry_backoff_factor=0.01,
                     azure_retry_backoff_max=0.05)  # fmt: skip
    pipe_run(sb, tmp_path, "asim", state, target_extra=outage, env=azure.env(),
             tap_extra=tap, expect_target_exit=75)  # fmt: skip
    azure.clear_faults()
    pipe_run(sb, tmp_path, "asim", state, target_extra=_target(azure),
             env=azure.env(), tap_extra=tap)  # fmt: skip

    _assert_every_event_once_at_its_time(azure, sb, _everything(sb))
