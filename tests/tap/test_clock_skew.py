"""This machine's clock ahead of Zoom's: the tap follows Zoom's clock and loses nothing.

The sandbox runs its own clock (here 3 hours behind this machine's) and dates its HTTP answers
by it, as Zoom's servers do by theirs. Runs are real tap processes over real HTTP.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from .helpers import ACTIVITY_FIELDS, run_tap, zoom_fields

SKEW = timedelta(hours=3)


@pytest.fixture
def zoom_behind(sandbox_factory):
    """A sandbox whose clock is SKEW behind this machine's."""
    # Dense enough that the two hours the test waits hold sign-ins at any hour of any weekday
    # (the sandbox has fewer at night and at weekends).
    sb = sandbox_factory(
        users=100,
        days=2,
        events_per_user_day=96,
        late_fraction=0.0,
        now=datetime.now(timezone.utc) - SKEW,
    )
    settings = {"lookback_days": 1, "late_arrival_hours": 1, "rate_limit_share": 1}
    return sb, sb.tap_config(**settings)


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_clock_ahead_of_zoom_beyond_late_arrival_loses_nothing(tmp_path, zoom_behind):
    """3 h ahead, late_arrival_hours 1: the bookmark used to be 3 h ahead of Zoom's clock, and
    the next run started 1 h before it, skipping the 2 h of sign-ins Zoom showed meanwhile."""
    sb, config = zoom_behind
    run1 = run_tap(tmp_path, config)
    assert run1.returncode == 0, run1.stderr[-3000:]
    bookmark = _when(run1.state["bookmarks"]["activities"]["replication_key_value"])

    sb.advance_clock(2 * 3600)  # two hours of new sign-ins appear (Zoom's time)
    run2 = run_tap(tmp_path, config, state=run1.state)
    assert run2.returncode == 0, run2.stderr[-3000:]

    start = bookmark - timedelta(hours=20)  # inside what run 1 read (lookback_days 1)
    end = _when(run2.state["bookmarks"]["activities"]["replication_key_value"])
    gap = sb.ground_truth("activities", sb.now() - timedelta(hours=2), sb.now())
    assert gap, "the test needs sign-ins in the two hours Zoom's clock moved on"
    records = run1.records("activities") + run2.records("activities")
    ids = [r["event_id"] for r in records]
    assert len(ids) == len(set(ids)), "an event was emitted twice"
    got = Counter(zoom_fields(r, ACTIVITY_FIELDS) for r in records if _when(r["time"]) >= start)
    want = Counter(
        zoom_fields(r, ACTIVITY_FIELDS) for r in sb.ground_truth("activities", start, end)
    )
    assert got == want, f"missing {sum((want - got).values())}, unexpected {got - want}"

    assert bookmark <= sb.now() - timedelta(hours=2), "the bookmark ran ahead of Zoom's clock"
    [warning] = [line for line in run1.stderr.splitlines() if "ahead of Zoom's" in line]
    assert "3.0 h" in warning and "NTP" in warning


def test_a_bookmark_ahead_of_zoom_is_refused_by_zoom_clock(tmp_path, zoom_behind):
    """Written while this machine's clock ran ahead: ahead of Zoom's clock, though not ours."""
    sb, config = zoom_behind
    ahead = (sb.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    state = {"bookmarks": {"activities": {"replication_key_value": ahead}}}
    run = run_tap(tmp_path, config, state=state)
    assert run.returncode == 65, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    [line] = run.error_lines()
    assert "--state" in line and "activities" in line and ahead in line and "later than now" in line
    assert not [m for m in run.messages if m["type"] in ("RECORD", "STATE")]
