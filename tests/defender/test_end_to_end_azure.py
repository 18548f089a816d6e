"""tap | target-defender | Azure Monitor (the emulator): what Azure STORES equals the ground truth.

The same two incremental runs as ``test_end_to_end``, delivered through Microsoft's Logs
Ingestion client to ``azure-monitor-sandbox``. Checked on the rows the emulator stored, not on
what was sent: every event once, every column the mapping wrote kept (no column the table
lacks), and ``TimeGenerated`` as Azure treats it: kept for events less than two days old,
replaced by the time Azure received the row for older ones.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from tap_zoom_defender.azure_monitor_sandbox import AzureMonitorSandbox, SandboxConfig
from tap_zoom_defender.defender.mapping import PROFILES, MappingContext

from .test_end_to_end import _comparable, pipe_run

TABLES = {"activities": "ZoomAuthentication_CL", "operation_logs": "ZoomAuditEvent_CL"}


@pytest.fixture
def azure(tmp_path):
    """The Azure Monitor emulator with the project's asim DCR and tables."""
    with AzureMonitorSandbox(SandboxConfig(ca_dir=tmp_path / "ca")) as emulator:
        yield emulator


def _when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_two_incremental_runs_store_the_ground_truth_once_as_azure_would(
    sandbox_factory, azure, tmp_path
):
    az = azure
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=5)
    sb = sandbox_factory(users=12, days=3, late_fraction=0.0, now=start)
    extra = {"destination": "azure_monitor", **az.target_settings()}
    state = pipe_run(sb, tmp_path, "asim", None, target_extra=extra, env=az.env())
    first = sum(az.stats(table)["stored"] for table in TABLES.values())
    sb.advance_clock(4 * 3600)  # new sign-ins and admin operations happen
    pipe_run(sb, tmp_path, "asim", state, target_extra=extra, env=az.env())
    received_after = dt.datetime.now(dt.timezone.utc)

    for stream, table in TABLES.items():
        rows = az.rows(table)
        stats = az.stats(table)
        assert stats["received"] == stats["stored"] == len(rows)
        assert not stats["columns_dropped"], f"{table}: columns the table lacks were sent"
        dupes = [k for k, n in Counter(r["EventOriginalUid"] for r in rows).items() if n > 1]
        assert not dupes, f"{table}: {len(dupes)} rows stored twice"

        # TimeGenerated as Azure keeps it: the event time within two days, else receipt time.
        # (Within a few minutes of the two-day edge either may happen: receipt times differ.)
        edge = dt.timedelta(minutes=5)
        for row in rows:
            event = _when(row["EventStartTime"])
            stored = _when(row["TimeGenerated"])
            if received_after - event < dt.timedelta(days=2) - edge:
                assert stored == event, row["EventOriginalUid"]
            elif received_after - event > dt.timedelta(days=2) + edge:
                assert stored > event + dt.timedelta(days=1), row["EventOriginalUid"]
        replaced = sum(1 for r in rows if r["TimeGenerated"] != r["EventStartTime"])
        assert replaced == stats["time_generated_replaced"] > 0

        # Everything else exactly the ground truth mapped through the profile.
        mapping = PROFILES["asim"][stream]
        ctx = MappingContext(stream=stream)
        expected = Counter(
            _comparable({**mapping.map(r, ctx), "TimeGenerated": None}, "EventOriginalUid")
            for r in sb.ground_truth(stream)
        )
        got = Counter(
            _comparable(
                {**{c.name: None for c in mapping.columns}, **row, "TimeGenerated": None},
                "EventOriginalUid",
            )
            for row in rows
        )
        assert got == expected, (
            f"{table}: {sum((expected - got).values())} missing, "
            f"{sum((got - expected).values())} unexpected"
        )
    assert first < sum(az.stats(table)["stored"] for table in TABLES.values()), (
        "the second run stored nothing new: the incremental path was not exercised"
    )
